"""Observer insertion: the one place that mutates the graph. Linear in the size of the graph.

For each annotated node ``n`` (in the graph order from before insertion):

* Input edges. For each node among the positional arguments of ``n`` (inside nested containers too, e.g.
  ``cat``'s list of tensors, as torch.fx's ``map_arg`` walks them), the edge is ``(a, n)`` where ``a`` is the
  argument with any observers already put in front of it skipped. When the edge has an observer instance ``obs``
  in the map:
  - if ``a``'s output is observed by the same instance, ``n`` already reads the observed value: nothing to do;
  - if ``n`` writes ``a`` in place (its op's schema marks argument 0 as written) and ``a`` is computed from
    module buffers alone (no graph input), ``a`` is a buffer update: it is not observed;
  - if an observer node running ``obs`` on the same value exists already (inserted for another consumer) and
    the value's storage has not been written since that node observed it, ``n`` reads from it;
  - otherwise a new observer node ``obs(value)`` is inserted and ``n`` reads from it: right after the value, or,
    when the value's storage has been written in place since the value was computed (``relu_`` on a view of it,
    ``mul_`` on it, by a node before ``n``), right before ``n``. An edge observer observes the value as ``n``
    reads it: observed right after the producer, ``n`` would read a snapshot from before the write (a fake
    quant's output, or ``convert_pt2e``'s quantize/dequantize pair, is a new tensor the write misses).
  The same value used twice by ``n`` (``add(x, x)``, ``cat([x, x])``) is one edge and reads one observer.
* Storage (what "written since" means), tracked along the graph order as nodes are visited: an op's value
  shares the storage of its arguments its schema gives an alias annotation (views, ``split``'s pieces, in-place
  ops), a ``getitem`` that of its container, any other value has its own (an observer node's output included:
  it stands for the copy a fake quant or quantize/dequantize makes); a node writes the storage of each argument
  its schema marks as written, and ``n``'s own writes come after its inputs are read. Writes to a value already
  read through an output observer go to that observer's output, which its readers share.
* Output. When ``n`` is a key and its ``meta["val"]`` is a tensor (a ``FakeTensor``; tuples such as ``split``'s
  output are never observed), an observer node is inserted right after ``n`` and every other user of ``n`` reads
  from it. The numeric-debugger provenance (``meta["from_node"]``) is copied to the observer node.

Observer modules are registered on the model as ``activation_post_process_<i>``, numbered on from the highest
such name the model holds already (from 0 on a model that holds none).
"""

from __future__ import annotations

import operator
import re
from typing import Any

import torch
from torch._subclasses import FakeTensor
from torch.fx import GraphModule, Node
from torch.fx.node import map_arg

from prepare_impl.fx_nodes import create_call
from prepare_impl.keys import annotation_of

OBSERVER_PREFIX = "activation_post_process_"
FROM_NODE_KEY = "from_node"


_OBSERVER_NAME = re.compile(re.escape(OBSERVER_PREFIX) + r"([0-9]+)")


def _observer_indices(model: torch.nn.Module) -> list[int]:
    """The numbers of the ``activation_post_process_<n>`` names ``model`` has already (an instance attribute, a
    submodule, a parameter or a buffer: the names that can hold one). Read from the module's own dictionaries:
    ``dir(model)`` also lists, and sorts, every method of its class."""
    names = set(model.__dict__)
    for table in ("_modules", "_parameters", "_buffers"):
        names.update(getattr(model, table, None) or ())
    return [int(m.group(1)) for name in names if (m := _OBSERVER_NAME.fullmatch(name))]


class _Inserter:
    def __init__(self, model: GraphModule, obs_map: dict):
        self.model = model
        self.graph = model.graph
        self.obs_map = obs_map
        self.observer_nodes: dict[Node, torch.nn.Module] = {}  # observer node -> module it runs
        self.existing: dict[tuple[Node, int], Node] = {}  # (observed value, id(module)) -> observer node
        self.buffer_names = {name for name, _ in model.named_buffers(remove_duplicate=False)}
        self._buffer_only: dict[Node, bool] = {}
        self.storage: dict[Node, Node] = {}  # value -> the node whose storage it shares (itself when its own)
        self.writes: dict[Node, int] = {}  # storage -> in-place writes to it so far
        self.seen: dict[Node, int] = {}  # value -> writes to its storage when it was computed
        self.observed_at: dict[Node, int] = {}  # observer node -> writes to the observed value's storage then
        self.next_index = max(_observer_indices(model), default=-1) + 1

    # -- graph edits ---------------------------------------------------------------------------------------
    def _new_observer_node(self, value: Node, module: torch.nn.Module) -> Node:
        name = f"{OBSERVER_PREFIX}{self.next_index}"
        self.next_index += 1
        setattr(self.model, name, module)
        with self.graph.inserting_after(value):
            obs_node = create_call(self.graph, "call_module", name, (value,))
        self.observer_nodes[obs_node] = module
        self.existing[(value, id(module))] = obs_node
        self.observed_at[obs_node] = self._writes_to(value)  # its own output is a fresh storage, never written yet
        return obs_node

    # -- storage ---------------------------------------------------------------------------------------------
    def _storage_of(self, value: Node) -> Node:
        return self.storage.get(value, value)

    def _writes_to(self, value: Node) -> int:
        return self.writes.get(self._storage_of(value), 0)

    def _written_since_computed(self, value: Node) -> bool:
        return self._writes_to(value) != self.seen.get(value, 0)

    def _visit(self, node: Node) -> None:
        """Record ``node``'s storage and its in-place writes (after its inputs are read: the module docstring)."""
        schema = getattr(node.target, "_schema", None) if node.op == "call_function" else None
        if node.op == "call_function" and node.target is operator.getitem and isinstance(node.args[0], Node):
            self.storage[node] = self._storage_of(node.args[0])
        elif schema is not None:
            for i, argument in enumerate(schema.arguments):
                alias = argument.alias_info
                passed = node.args[i] if i < len(node.args) else node.kwargs.get(argument.name)
                if alias is None or passed is None:
                    continue
                for value in _nodes_in(passed):
                    self.storage.setdefault(node, self._storage_of(value))
                    if alias.is_write:
                        root = self._storage_of(value)
                        self.writes[root] = self.writes.get(root, 0) + 1
        self.seen[node] = self._writes_to(node)

    # -- input edges ---------------------------------------------------------------------------------------
    def _observed_arg(self, node: Node, arg: Node) -> Node:
        """What ``node`` reads instead of its argument node ``arg``: ``arg`` or an observer node of the edge."""
        producer = arg
        while producer in self.observer_nodes:
            producer = producer.args[0]
        obs = self.obs_map.get((producer, node))
        if obs is None:
            return arg
        if self.obs_map.get(producer) is obs:
            return arg
        if self._is_buffer_update(node, producer):
            return arg
        found = self.existing.get((arg, id(obs)))
        if found is not None and self.observed_at.get(found) == self._writes_to(arg):
            return found
        stale = self._written_since_computed(arg)
        obs_node = self._new_observer_node(arg, obs)
        if stale:
            node.prepend(obs_node)  # observe the value as ``node`` reads it, after the writes
        return obs_node

    def _is_buffer_update(self, node: Node, arg: Node) -> bool:
        if node.op != "call_function" or not node.args or node.args[0] is not arg:
            return False
        schema = getattr(node.target, "_schema", None)
        if schema is None or not schema.arguments:
            return False
        alias = schema.arguments[0].alias_info
        if alias is None or not alias.is_write:
            return False
        return self._computed_from_buffers_only(arg)

    def _computed_from_buffers_only(self, start: Node) -> bool:
        """Whether ``start`` depends on no graph input and reads at least one module buffer."""
        # Memoised iterative post-order over producers; python ``getattr`` calls end the walk, as they do in
        # torchao's producer walk. Result per node: None = depends on a graph input, else reads-a-buffer flag.
        memo = self._buffer_only
        stack = [(start, False)]
        while stack:
            n, expanded = stack.pop()
            if n in memo:
                continue
            producers = n.all_input_nodes
            if not expanded:
                stack.append((n, True))
                for p in producers:
                    if p.op != "placeholder" and p not in memo and not _stops_walk(p):
                        stack.append((p, False))
                continue
            result: Any = n.op == "get_attr" and str(n.target) in self.buffer_names
            for p in producers:
                if p.op == "placeholder":
                    result = None
                    break
                sub = (p.op == "get_attr" and str(p.target) in self.buffer_names) if _stops_walk(p) else memo[p]
                if sub is None:
                    result = None
                    break
                result = result or sub
            memo[n] = result
        return bool(memo[start])

    # -- outputs ---------------------------------------------------------------------------------------------
    def _observe_output(self, node: Node) -> None:
        obs = self.obs_map.get(node)
        if obs is None or not isinstance(node.meta.get("val"), FakeTensor):
            return
        obs_node = self._new_observer_node(node, obs)
        if FROM_NODE_KEY in node.meta:
            obs_node.meta[FROM_NODE_KEY] = node.meta[FROM_NODE_KEY]
        for user in list(node.users):
            if user is not obs_node:
                user.replace_input_with(node, obs_node)

    def run(self) -> None:
        for node in list(self.graph.nodes):
            if annotation_of(node) is not None:
                node.args = map_arg(node.args, lambda a, node=node: self._observed_arg(node, a))
            self._visit(node)
            if annotation_of(node) is not None:
                self._observe_output(node)


def _nodes_in(arg: Any) -> list[Node]:
    """The nodes in an argument (inside nested lists and tuples too)."""
    found: list[Node] = []
    map_arg(arg, found.append)
    return found


def _stops_walk(n: Node) -> bool:
    return n.op == "call_function" and n.target is getattr


def insert_observers(model: GraphModule, obs_map: dict) -> None:
    """Insert the observers of ``obs_map`` (key -> instance) into ``model``'s graph, in place."""
    _Inserter(model, obs_map).run()
