"""Walks over the nested arguments of a case's nodes: which nodes a node reads, and renaming those references.

The rule: a node's arguments are nested tuples (a list argument such as ``cat``'s tensors is a tuple) whose leaves
are :class:`~harness.case.model.Ref` (the value of another node), :class:`~harness.case.model.Const` or scalars;
keyword arguments are ``(name, value)`` pairs, whose names are plain strings and so never references. Every walk
visits the leaves depth first, in argument order (positional, then keyword), repeats included. Pure data, no torch.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from harness.case.model import Graph, Node, Ref

__all__ = ["refs", "inputs_of", "users_of", "has_tensor_kwarg", "map_refs"]


def refs(value: Any) -> Iterator[str]:
    """Names of the nodes referenced in an argument structure (depth first, in order, with repeats)."""
    if isinstance(value, Ref):
        yield value.name
    elif isinstance(value, tuple):
        for item in value:
            yield from refs(item)


def inputs_of(node: Node) -> list[str]:
    """Names of the nodes ``node`` reads, in argument order (positional, then keyword), with repeats."""
    return list(refs((node.args, node.kwargs)))


def users_of(graph: Graph) -> dict[str, list[str]]:
    """For every node of ``graph``, the names of the nodes that read it, in graph order, with repeats (a reference
    to a name that is not a node of the graph is ignored)."""
    users: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    for node in graph.nodes:
        for name in inputs_of(node):
            if name in users:
                users[name].append(node.name)
    return users


def has_tensor_kwarg(node: Node) -> bool:
    """Whether ``node`` passes a tensor (a node reference) as a keyword argument."""
    return next(refs(node.kwargs), None) is not None


def map_refs(value: Any, rename: Callable[[str], str]) -> Any:
    """``value`` with every reference ``Ref(n)`` replaced by ``Ref(rename(n))`` (the nesting kept)."""
    if isinstance(value, Ref):
        return Ref(rename(value.name))
    if isinstance(value, tuple):
        return tuple(map_refs(item, rename) for item in value)
    return value
