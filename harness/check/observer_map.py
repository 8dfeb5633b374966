"""Locating observers: which observer node of a prepared graph observes which annotated key.

Rule (keys as in :mod:`harness.check.keys`):

* ``edge:a->n``: follow ``n``'s argument that comes from ``a`` (inside nested lists too) back through the
  chain of observer ``call_module`` nodes to ``a``; the observer of the edge is the one nearest to ``n``
  (``None`` when ``n`` reads ``a`` directly). It may be ``a``'s output observer: implicit sharing.
* ``out:a``: the observer node attached directly to ``a`` (its first argument is ``a``) through which
  every consumer of ``a`` reads it, i.e. the one that replaced ``a`` for its users. ``None`` when some
  consumer reads ``a`` directly or through another attached observer (an observer that only some
  consumers read is an edge observer), or when nothing is attached. A node without consumers counts as
  observed by its first attached observer. (A graph cannot tell an output observer from an edge
  observer when the edge is the output's only consumer; the observer then counts for both keys.)

Nothing here mutates a graph or runs a model.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch.fx import GraphModule, Node
from torchao.quantization.pt2e import DerivedObserverOrFakeQuantize, FakeQuantizeBase, ObserverBase
from torchao.quantization.pt2e.observer import _is_activation_post_process

from harness.check.keys import annotated_keys, edge_key, parse_key
from harness.fx.nodes import arg_nodes

__all__ = ["ObserverMap", "is_observer_module", "locate_observers", "observer_module_of", "submodule"]


def is_observer_module(module: Any) -> bool:
    """Whether ``module`` is an observer or a fake quant (anything prepare may insert)."""
    return isinstance(
        module, (ObserverBase, FakeQuantizeBase, DerivedObserverOrFakeQuantize)
    ) or bool(_is_activation_post_process(module))


def submodule(gm: GraphModule, target: Any) -> Optional[torch.nn.Module]:
    """The submodule of ``gm`` a ``call_module`` target names, ``None`` when there is none."""
    try:
        return gm.get_submodule(str(target))
    except AttributeError:
        return None


def observer_module_of(gm: GraphModule, node: Any) -> Optional[torch.nn.Module]:
    """The observer (or fake quant) ``node`` runs, when it is an observer node (a ``call_module`` of one, reading
    a node first); ``None`` otherwise."""
    if not (isinstance(node, Node) and node.op == "call_module" and len(node.args) >= 1
            and isinstance(node.args[0], Node)):
        return None
    module = submodule(gm, node.target)
    return module if is_observer_module(module) else None


@dataclass
class ObserverMap:
    """Where the observers of a prepared graph sit, relative to the nodes of the original graph.

    * ``keys``: annotated key -> spec (from :func:`annotated_keys`).
    * ``key_node``: annotated key -> the observer node that observes it (``None``: unobserved).
    * ``edge_chains``: edge key (every edge of the prepared graph between two non-observer nodes, annotated
      or not) -> one chain per occurrence of the argument in the consumer's args, each chain the list of
      observer nodes from the producer to the consumer (empty: read directly).
    * ``attached``: producer name -> observer nodes whose first argument is the producer, in graph order.
    * ``observer_nodes``: every observer node of the prepared graph, in graph order.
    * ``missing_nodes``: names of annotated nodes (or key endpoints) absent from the prepared graph.
    * ``modules``: observer node -> the module it runs (looked up once).
    """

    prepared: GraphModule
    keys: dict[str, Any]
    key_node: dict[str, Optional[Node]]
    edge_chains: dict[str, list[list[Node]]]
    attached: dict[str, list[Node]]
    observer_nodes: list[Node]
    missing_nodes: list[str]
    modules: dict[Node, torch.nn.Module] = field(default_factory=dict)

    def module(self, node: Optional[Node]) -> Optional[torch.nn.Module]:
        """The observer module a call_module node runs (``None`` for ``None``)."""
        if node is None:
            return None
        module = self.modules.get(node)
        return module if module is not None else submodule(self.prepared, node.target)

    def key_module(self, key: str) -> Optional[torch.nn.Module]:
        """The observer module observing annotated key ``key`` (``None``: unobserved or not a key)."""
        return self.module(self.key_node.get(key))

    def group_module(self, keys: Any) -> Optional[torch.nn.Module]:
        """The observer module of a group of ``keys``: that of its first key, in sorted order, that is observed
        (``None``: none is)."""
        return next((m for k in sorted(keys) if (m := self.key_module(k)) is not None), None)


def _output_observer(a: str, candidates: list[Node], chains_from_a: list[list[Node]]) -> Optional[Node]:
    """The observer attached to ``a`` that every consumer of ``a`` reads through, if there is one.

    With no consumer at all, the first attached observer (a dead output still has its observer).
    """
    if not candidates:
        return None
    firsts = [chain[0] if chain else None for chain in chains_from_a]
    if not firsts:
        return candidates[0]
    first = firsts[0]
    if first is not None and all(f is first for f in firsts):
        return first
    return None


def locate_observers(original: GraphModule, prepared: GraphModule) -> ObserverMap:
    """Find, for every annotated key of ``original``, the observer node observing it in ``prepared``."""
    if not isinstance(prepared, GraphModule):
        raise TypeError(f"prepared must be a torch.fx.GraphModule, got {type(prepared).__name__}")
    keys = annotated_keys(original)
    nodes = list(prepared.graph.nodes)
    by_name = {n.name: n for n in nodes}
    modules = {n: m for n in nodes if (m := observer_module_of(prepared, n)) is not None}
    observer_nodes = list(modules)
    obs_set = set(observer_nodes)

    edge_chains: dict[str, list[list[Node]]] = defaultdict(list)
    chains_from: dict[str, list[list[Node]]] = defaultdict(list)
    for n in nodes:
        if n in obs_set:
            continue
        for x in arg_nodes((n.args, n.kwargs)):
            chain: list[Node] = []
            seen: set[Node] = set()
            while x in obs_set and x not in seen:
                seen.add(x)
                chain.append(x)
                x = x.args[0]
            chain.reverse()
            edge_chains[edge_key(x.name, n.name)].append(chain)
            chains_from[x.name].append(chain)

    attached: dict[str, list[Node]] = defaultdict(list)
    for o in observer_nodes:
        root = o.args[0]
        if root not in obs_set:
            attached[root.name].append(o)

    missing: set[str] = set()
    key_node: dict[str, Optional[Node]] = {}
    for key in keys:
        kind, a, n = parse_key(key)
        for name in (a, n):
            if name is not None and name not in by_name:
                missing.add(name)
        if kind == "edge":
            chains = edge_chains.get(key, [])
            key_node[key] = chains[0][-1] if chains and chains[0] else None
        else:
            key_node[key] = _output_observer(a, attached.get(a, []), chains_from.get(a, []))
    return ObserverMap(
        prepared=prepared,
        keys=keys,
        key_node=key_node,
        edge_chains=dict(edge_chains),
        attached=dict(attached),
        observer_nodes=observer_nodes,
        missing_nodes=sorted(missing),
        modules=modules,
    )
