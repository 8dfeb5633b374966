"""The rule "annotate() and validate() change only annotations": a snapshot of a graph's nodes (name, op, target,
arguments) and of its module's parameters and buffers, ignoring ``node.meta``, and what changed between two
snapshots in plain words."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch.fx import GraphModule, Node

from harness.suite.describe import target_name

__all__ = ["GraphStructure", "graph_structure", "structure_changes"]


def _arg_structure(value: Any) -> Any:
    if isinstance(value, Node):
        return ("%node", value.name)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_arg_structure(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _arg_structure(v)) for k, v in value.items()))
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, (int, float, bool, str, type(None))):
        return value
    return repr(value)


@dataclass(frozen=True)
class GraphStructure:
    """What annotate() must not change: the nodes (name, op, target, args, kwargs) and the module's state."""

    nodes: tuple
    state: dict  # name -> tensor (cloned)


def graph_structure(gm: GraphModule) -> GraphStructure:
    """A snapshot of ``gm``'s nodes and state, ignoring every ``node.meta`` (annotations live there)."""
    nodes = tuple(
        (n.name, n.op, target_name(n.target), _arg_structure(n.args), _arg_structure(n.kwargs))
        for n in gm.graph.nodes
    )
    state = {k: v.detach().clone() for k, v in gm.state_dict(keep_vars=True).items() if isinstance(v, torch.Tensor)}
    return GraphStructure(nodes, state)


def structure_changes(before: GraphStructure, after: GraphStructure, limit: int = 6) -> list[str]:
    """What changed between two snapshots, in plain words (empty: nothing)."""
    changes = []
    old = {n[0]: n for n in before.nodes}
    new = {n[0]: n for n in after.nodes}
    for name in old:
        if name not in new:
            changes.append(f"node {name!r} was removed")
    for name in new:
        if name not in old:
            changes.append(f"node {name!r} ({new[name][1]} {new[name][2]}) was added")
    for name in old:
        if name in new and old[name] != new[name]:
            changes.append(f"node {name!r} changed: {_show_node(old[name])} became {_show_node(new[name])}")
    if not changes and [n[0] for n in before.nodes] != [n[0] for n in after.nodes]:
        changes.append("the nodes were reordered")
    changes.extend(_state_changes(before.state, after.state))
    if len(changes) > limit:
        changes = changes[:limit] + [f"... and {len(changes) - limit} more changes"]
    return changes


def _state_changes(before: dict, after: dict) -> list[str]:
    changes = []
    for k in before:
        if k not in after:
            changes.append(f"parameter/buffer {k!r} was removed")
        else:
            a, b = before[k], after[k]
            if a.shape != b.shape or a.dtype != b.dtype:
                changes.append(f"parameter/buffer {k!r} changed from {a.dtype}{list(a.shape)} "
                               f"to {b.dtype}{list(b.shape)}")
            elif not torch.equal(a, b):
                changes.append(f"the values of parameter/buffer {k!r} were modified")
    for k in after:
        if k not in before:
            changes.append(f"parameter/buffer {k!r} was added")
    return changes


def _show_node(entry: tuple) -> str:
    name, op, target, args, kwargs = entry

    def show(a: Any) -> str:
        if isinstance(a, tuple) and a and a[0] == "%node":
            return a[1]
        if isinstance(a, tuple) and len(a) == 2 and a[0] in ("list", "tuple", "immutable_list"):
            return "[" + ", ".join(show(x) for x in a[1]) + "]"
        if isinstance(a, tuple) and len(a) == 2 and a[0] in ("dict", "immutable_dict"):
            return ", ".join(f"{k}={show(v)}" for k, v in a[1])
        return repr(a)

    inner = show(args)[1:-1]
    kw = show(kwargs)
    return f"{op} {target}({inner}{', ' + kw if kw else ''})"
