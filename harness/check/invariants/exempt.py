"""Annotated keys that upstream semantics (torchao ``prepare``) leave unobserved, each with its reason.

Rules:

* an annotated output whose ``meta["val"]`` is not a ``FakeTensor`` is never observed;
* an annotated edge whose argument is the destination written in place by a mutating op (first argument
  of e.g. ``copy_``, produced from module buffers only, without graph inputs, counting the nodes inside list
  arguments such as ``cat([x, ...])``: torchao 0.18's walk skips those, its known bug
  ``ao-buffer-walk-skips-lists``) is not observed -- unless
  that destination has an annotated output, whose observer the op then reads (torchao only recognises
  the destination when the op reads it directly);
* an edge in the same group as its producer's output is observed by that output's observer, so an edge
  sharing with an exempt output is not observed either.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from torch._subclasses import FakeTensor
from torch.fx import GraphModule, Node

from harness.check.invariants.context import ExpectedGroup
from harness.check.invariants.naming import nodes_by_name
from harness.check.keys import annotated_keys, output_key, parse_key

__all__ = ["exempt_keys"]


def _is_fake_tensor(value: Any) -> bool:
    return isinstance(value, FakeTensor)


def buffer_only_producers(arg: Node) -> Optional[list[Node]]:
    """Nodes ``arg`` is computed from (through every input node, list elements included), or ``None`` when a
    graph input (placeholder) feeds it."""
    seen = {arg: None}  # insertion-ordered; each node walked once
    frontier = [arg]
    while frontier:
        cur = frontier.pop()
        for a in cur.all_input_nodes:
            if a.op == "placeholder":
                return None
            if a not in seen:
                seen[a] = None
                if not (a.op == "call_function" and a.target is getattr):
                    frontier.append(a)
    return list(seen)


def _is_inplace_buffer_destination(node: Node, arg: Node, buffer_names: set) -> bool:
    """Whether ``arg`` is the in-place written first argument of ``node``, computed from buffers only."""
    schema = getattr(node.target, "_schema", None)
    if node.op != "call_function" or schema is None or not node.args or node.args[0] is not arg:
        return False
    if not schema.arguments or schema.arguments[0].alias_info is None:
        return False
    if not schema.arguments[0].alias_info.is_write:
        return False
    producers = buffer_only_producers(arg)
    if producers is None:
        return False
    return any(p.op == "get_attr" and str(p.target) in buffer_names for p in producers)


def exempt_keys(original: GraphModule, expected_groups: Optional[Sequence[ExpectedGroup]] = None) -> dict[str, str]:
    """Annotated keys upstream semantics leave unobserved, each with the reason in plain words."""
    keys = annotated_keys(original)
    nodes = nodes_by_name(original)
    buffer_names = {name for name, _ in original.named_buffers(remove_duplicate=False)}
    out: dict[str, str] = {}
    for key in keys:
        kind, a, n = parse_key(key)
        if kind == "out":
            node = nodes.get(a)
            if node is not None and not _is_fake_tensor(node.meta.get("val")):
                out[key] = f"the output of {a} is not a tensor (meta['val'] is not a FakeTensor)"
        else:
            node, arg = nodes.get(n), nodes.get(a)
            if node is None or arg is None or output_key(a) in keys:
                continue
            if _is_inplace_buffer_destination(node, arg, buffer_names):
                out[key] = f"{a} is the buffer {n} writes in place"
    if expected_groups is not None:
        index = {k: i for i, g in enumerate(expected_groups) for k in g.keys}
        for key in keys:
            kind, a, n = parse_key(key)
            ok = output_key(a)
            if kind == "edge" and ok in out and key in index and index.get(ok) == index[key]:
                out.setdefault(key, f"it shares the observer of the output of {a}, which is not observed")
    return out
