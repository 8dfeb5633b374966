"""Plain words for checker messages: nodes by name, keys and observer instances as a reader names them.

Rule: a key reads ``edge a -> n`` or ``output of n``; an observer instance is named by the target of the first
node running it (or ``<Class not in the graph>``).
"""

from __future__ import annotations

from typing import Any, Iterable

from torch.fx import GraphModule, Node

from harness.check.keys import parse_key
from harness.check.observer_map import ObserverMap

__all__ = ["key_text", "keys_text", "nodes_by_name", "obs_name"]


def nodes_by_name(gm: GraphModule) -> dict[str, Node]:
    """Node name -> node, for every node of ``gm``'s graph."""
    return {n.name: n for n in gm.graph.nodes}


def obs_name(om: ObserverMap, module: Any) -> str:
    """A readable name for an observer instance: the target of the first node running it."""
    for o in om.observer_nodes:
        if om.module(o) is module:
            return str(o.target)
    return f"<{type(module).__name__} not in the graph>"


def key_text(key: str) -> str:
    kind, a, n = parse_key(key)
    return f"edge {a} -> {n}" if kind == "edge" else f"output of {a}"


def keys_text(keys: Iterable[str]) -> str:
    return ", ".join(key_text(k) for k in sorted(keys))
