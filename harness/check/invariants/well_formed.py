"""Well-formed graph: the prepared graph lints, is topologically sorted, every call_module target exists, and
it is the original graph plus observer nodes only (same nodes, ops, targets and arguments up to observers).
"""

from __future__ import annotations

from typing import Any

from torch.fx import GraphModule, Node

from harness.check.invariants.context import CheckContext, Violation
from harness.check.invariants.naming import nodes_by_name
from harness.check.observer_map import is_observer_module, observer_module_of, submodule
from harness.fx.nodes import arg_nodes

__all__ = ["check_graph_well_formed"]


def _strip(observers: set[Node], value: Any) -> Any:
    """An argument with Nodes replaced by the names of the nodes behind any observer chain (``observers``: the
    graph's observer nodes)."""
    if isinstance(value, Node):
        seen = set()
        while value in observers and value not in seen:
            seen.add(value)
            value = value.args[0]
        return ("node", value.name)
    if isinstance(value, (list, tuple)):
        return tuple(_strip(observers, x) for x in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _strip(observers, x)) for k, x in value.items()))
    return ("const", repr(value))


def _observer_nodes(gm: GraphModule) -> set[Node]:
    return {n for n in gm.graph.nodes if observer_module_of(gm, n) is not None}


def check_graph_well_formed(ctx: CheckContext) -> list[Violation]:
    """The prepared graph lints, is topologically sorted, every call_module target exists, and it is the
    original graph plus observer nodes only (same nodes, ops, targets and arguments up to observers)."""
    prepared = ctx.prepared
    v: list[Violation] = []

    def add(msg: str, **details: Any) -> None:
        v.append(Violation("graph_well_formed", msg, details or None))

    seen: set[Node] = set()
    for n in prepared.graph.nodes:
        for a in arg_nodes((n.args, n.kwargs)):
            if a not in seen:
                add(f"{n.name} uses {a.name} before it is defined (graph not topologically sorted)", node=n.name)
        seen.add(n)
        if n.op == "call_module" and submodule(prepared, n.target) is None:
            add(f"call_module node {n.name} targets {n.target}, which does not exist", node=n.name)
    if not v:
        try:
            prepared.graph.lint()
        except Exception as e:  # lint raises RuntimeError/ValueError with its own message
            add(f"graph lint failed: {type(e).__name__}: {e}")

    orig_nodes = nodes_by_name(ctx.original)
    prep_nodes = nodes_by_name(prepared)
    orig_observers = _observer_nodes(ctx.original)
    prep_observers = set(ctx.observer_map.observer_nodes) if ctx.observer_map is not None else _observer_nodes(
        prepared)
    for name, on in orig_nodes.items():
        if on in orig_observers:
            continue
        pn = prep_nodes.get(name)
        if pn is None:
            add(f"node {name} of the original graph is missing from the prepared graph", node=name)
            continue
        if pn.op != on.op or str(pn.target) != str(on.target):
            add(f"node {name} changed from {on.op} {on.target} to {pn.op} {pn.target}", node=name)
            continue
        if _strip(orig_observers, (on.args, on.kwargs)) != _strip(prep_observers, (pn.args, pn.kwargs)):
            add(f"the arguments of {name} differ from the original beyond inserted observers", node=name)
    for name, pn in prep_nodes.items():
        if name in orig_nodes:
            continue
        if pn in prep_observers or (pn.op == "call_module" and is_observer_module(submodule(prepared, pn.target))):
            continue
        what = pn.op if pn.op != "call_module" else f"call_module of {type(submodule(prepared, pn.target)).__name__}"
        add(f"node {name} ({what}) is new and not an observer: prepare may only insert observers", node=name)
    return v

