"""The rule "annotate() and validate() change only annotations": a snapshot of a graph's nodes (name, op, target,
arguments) and of its module's parameters and buffers, ignoring ``node.meta``, and what changed between two
snapshots in plain words.

One change is allowed: dead-code elimination. A node that nothing used and that has no side effect (not
``Node.is_impure()``: no placeholder or output, no in-place write such as ``add_``/``copy_`` on a buffer, no op
whose schema mutates an argument) may be removed, together with nodes only such removed nodes used; that changes
no result (torch.export keeps dead nodes, and quantizers that run ``graph.eliminate_dead_code()`` remove them).
Removing a node that something still uses, or a side-effecting one, or changing any edge is still a change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch.fx import GraphModule, Node

from harness.fx.nodes import arg_nodes
from harness.suite.describe import target_name

__all__ = ["GraphStructure", "graph_structure", "structure_changes", "eliminated_dead_code"]


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
    users: dict  # node name -> names of the nodes using it
    pure: frozenset  # names of the nodes without side effects (removable when nothing uses them)


def _is_pure(n: Node) -> bool:
    try:
        return not n.is_impure()
    except Exception:  # noqa: BLE001 - a node torch cannot judge is treated as having side effects
        return False


def graph_structure(gm: GraphModule) -> GraphStructure:
    """A snapshot of ``gm``'s nodes and state, ignoring every ``node.meta`` (annotations live there)."""
    nodes = tuple(
        (n.name, n.op, target_name(n.target), _arg_structure(n.args), _arg_structure(n.kwargs))
        for n in gm.graph.nodes
    )
    users: dict[str, set] = {n.name: set() for n in gm.graph.nodes}
    for n in gm.graph.nodes:
        for a in arg_nodes((n.args, n.kwargs)):
            users.setdefault(a.name, set()).add(n.name)
    state = {k: v.detach().clone() for k, v in gm.state_dict(keep_vars=True).items() if isinstance(v, torch.Tensor)}
    pure = frozenset(n.name for n in gm.graph.nodes if _is_pure(n))
    return GraphStructure(nodes, state, {k: tuple(sorted(v)) for k, v in users.items()}, pure)


def eliminated_dead_code(before: GraphStructure, after: GraphStructure) -> list[str]:
    """The removed nodes that are dead-code elimination (allowed): side-effect-free nodes whose users (in
    ``before``) were all removed the same way, in graph order."""
    present = {n[0] for n in after.nodes}
    removed = [n[0] for n in before.nodes if n[0] not in present]
    dead: set[str] = set()
    for name in reversed(removed):  # users come after the nodes they use
        if name in before.pure and all(u in dead for u in before.users.get(name, ())):
            dead.add(name)
    return [name for name in removed if name in dead]


def structure_changes(before: GraphStructure, after: GraphStructure, limit: int = 6) -> list[str]:
    """What changed between two snapshots, in plain words (empty: nothing); dead-code elimination (see
    :func:`eliminated_dead_code`) is not a change."""
    changes = []
    dead = set(eliminated_dead_code(before, after))
    old = {n[0]: n for n in before.nodes if n[0] not in dead}
    new = {n[0]: n for n in after.nodes}
    for name in old:
        if name not in new:
            users = [u for u in before.users.get(name, ()) if u not in dead]
            why = (f", though {', '.join(map(repr, users))} used it" if users
                   else "; it has side effects" if name not in before.pure else "")
            changes.append(f"node {name!r} was removed{why}")
    for name in new:
        if name not in old:
            changes.append(f"node {name!r} ({new[name][1]} {new[name][2]}) was added")
    for name in old:
        if name in new and old[name] != new[name]:
            changes.append(f"node {name!r} changed: {_show_node(old[name])} became {_show_node(new[name])}")
    if not changes and list(old) != list(new):
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
