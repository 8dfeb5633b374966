"""Creating a call node without ``Graph.create_node``'s scan of its arguments.

``torch.fx.Graph.create_node`` walks the arguments of every ``call_function``/``call_method``/``call_module`` node
with ``torch.utils._pytree`` to warn about raw ``SymInt`` values, which costs more than the rest of the node's
creation. The nodes made here never carry one: an observer's argument is the node it observes, and the harness builds
its graphs from case data (nodes, numbers, strings, dtypes, lists of them). The rule: the node is created with no
arguments, then given them through the public ``Node.args`` and ``Node.kwargs`` setters, which register it as a user
of each node it reads exactly as ``create_node`` would. Same node, same name, same place in the graph.
"""

from __future__ import annotations

from typing import Any, Optional

from torch.fx import Graph, Node

__all__ = ["create_call"]


def create_call(graph: Graph, op: str, target: Any, args: tuple = (), kwargs: Optional[dict] = None,
                name: Optional[str] = None) -> Node:
    """``graph.create_node(op, target, args, kwargs, name=name)`` for arguments without symbolic values."""
    node = graph.create_node(op, target, (), None, name=name)
    if args:
        node.args = args
    if kwargs:
        node.kwargs = kwargs
    return node
