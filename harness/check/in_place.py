"""In-place writes between a producer and its consumer: the input edges whose value the consumer reads after a
write to it (issue 15).

torch.export keeps in-place ops in the graphs prepare sees (``y.view(...).relu_()`` and later ``sigmoid(y)``). An
observer of such an edge must observe the value after the write, as the consumer reads it; torchao inserts every
edge observer right after the producer, so it calibrates on the value before the write, a later consumer reuses
that observer node, and after ``convert_pt2e`` the consumer reads the quantized value from before the write.

Rules: a value shares the storage of the arguments its op's schema gives an alias annotation (views, ``split``'s
pieces, in-place ops, ``out=`` arguments) and a ``getitem`` that of its container; any other value has its own. A
node writes the storage of each argument its schema marks as written. The edge ``(a, n)`` is *read after a write*
when a node strictly between ``a`` and ``n`` in graph order writes ``a``'s storage (``n``'s own write comes after it
reads its inputs, so it does not count). One walk of the graph: linear in its size.
"""

from __future__ import annotations

import operator
from typing import Iterable

from torch.fx import GraphModule, Node
from torch.fx.node import map_arg

__all__ = ["edges_read_after_a_write"]


def _nodes_in(arg) -> list[Node]:
    found: list[Node] = []
    map_arg(arg, found.append)
    return found


def edges_read_after_a_write(gm: GraphModule, edges: Iterable[tuple[Node, Node]]) -> list[tuple[Node, Node]]:
    """The edges ``(a, n)`` among ``edges`` that are read after a write (module docstring), in graph order of ``n``."""
    wanted: dict[Node, list[Node]] = {}
    for a, n in edges:
        wanted.setdefault(n, []).append(a)
    storage: dict[Node, Node] = {}
    writes: dict[Node, int] = {}
    seen: dict[Node, int] = {}  # node -> writes to its storage when it was computed
    found = []

    def writes_to(v: Node) -> int:
        return writes.get(storage.get(v, v), 0)

    for node in gm.graph.nodes:
        for a in wanted.get(node, ()):
            if writes_to(a) != seen.get(a, 0):
                found.append((a, node))
        schema = getattr(node.target, "_schema", None) if node.op == "call_function" else None
        if node.op == "call_function" and node.target is operator.getitem and isinstance(node.args[0], Node):
            storage[node] = storage.get(node.args[0], node.args[0])
        elif schema is not None:
            for i, argument in enumerate(schema.arguments):
                passed = node.args[i] if i < len(node.args) else node.kwargs.get(argument.name)
                if argument.alias_info is None or passed is None:
                    continue
                for v in _nodes_in(passed):
                    root = storage.get(v, v)
                    storage.setdefault(node, root)
                    if argument.alias_info.is_write:
                        writes[root] = writes.get(root, 0) + 1
        seen[node] = writes_to(node)
    return found
