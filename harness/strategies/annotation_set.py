"""What annotations are drawn over: the annotatable items of a graph, and the mutable annotation set being drawn.

The rule: an item is a distinct float-tensor positional argument of a ``call_function`` node (an input edge) or
the float-tensor value of such a node (its output); nodes that take a tensor keyword argument have none. The
output of a multi-output node (a list or tuple holding a float tensor: ``split``, ``topk``...) is an item too:
quantizers annotate it (torchao groups it but inserts no observer on a non-tensor), while the edge from it to a
``getitem`` carries a list and is none. The graph's ``output`` node has its float-tensor arguments as items
(annotated graph outputs), and placeholders and ``get_attr`` nodes their float outputs. Each item has a role: a
conv/linear weight or bias (a ``get_attr`` in argument 1 or 2), the output of a ``get_attr`` (``"weight"``:
weight-like specs fit any parameter, buffer or constant), the output of a multi-output node (``"multi"``), else
an activation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from harness.case import EdgeRef, Graph, Node, NodeAnnotation, NodeRef, Ref, Spec, Target, TensorMeta
from harness.case.walks import has_tensor_kwarg, refs
from harness.strategies.op_table import infer_meta
from harness.strategies.shapes import Meta, is_float

__all__ = ["WEIGHTED_OPS", "Item", "items_by_node", "annotation_items", "Ann", "AnnSet"]

WEIGHTED_OPS = ("aten.conv2d.default", "aten.linear.default")


@dataclass(frozen=True)
class Item:
    """Something an annotation can attach a spec to: an input edge or a node output, with its role."""

    target: Target
    node: str  # the annotated node
    role: str  # "act", "weight", "bias" or "multi"
    meta: TensorMeta  # for "multi", its first float element


def _edge_role(graph_node: Node, arg: str, by_name: Mapping[str, Node]) -> str:
    if graph_node.target in WEIGHTED_OPS and by_name[arg].op == "get_attr":
        args = graph_node.args
        if len(args) > 1 and args[1] == Ref(arg):
            return "weight"
        if len(args) > 2 and args[2] == Ref(arg):
            return "bias"
    return "act"


def _first_float(value) -> Optional[TensorMeta]:
    """The first float tensor of a multi-output value (a tuple of metas), else None."""
    if isinstance(value, tuple):
        return next((m for m in value if is_float(m)), None)
    return None


def items_by_node(graph: Graph, meta: Meta) -> dict[str, list[Item]]:
    """The annotatable items of each placeholder, get_attr, call_function node without tensor kwargs and of the
    output node, in annotation order."""
    by_name = {n.name: n for n in graph.nodes}
    out: dict[str, list[Item]] = {}
    for n in graph.nodes:
        if n.op in ("placeholder", "get_attr"):
            if is_float(meta.get(n.name)):
                role = "act" if n.op == "placeholder" else "weight"
                out[n.name] = [Item(NodeRef(n.name), n.name, role, meta[n.name])]  # type: ignore[arg-type]
            continue
        if n.op not in ("call_function", "output") or has_tensor_kwarg(n):
            continue
        items = []
        seen: set[str] = set()
        for a in refs(n.args):
            if a not in seen and is_float(meta.get(a)):
                seen.add(a)
                items.append(Item(EdgeRef(a, n.name), n.name, _edge_role(n, a, by_name), meta[a]))  # type: ignore[arg-type]
        if is_float(meta.get(n.name)):
            items.append(Item(NodeRef(n.name), n.name, "act", meta[n.name]))  # type: ignore[arg-type]
        elif n.op == "call_function" and _first_float(meta.get(n.name)) is not None:
            items.append(Item(NodeRef(n.name), n.name, "multi", _first_float(meta[n.name])))  # type: ignore[arg-type]
        if items or n.op == "call_function":
            out[n.name] = items
    return out


def annotation_items(graph: Graph, meta: Optional[Meta] = None) -> list[Target]:
    """Every edge and output a valid annotation of ``graph`` may attach a spec to, in annotation order.

    Edges are the distinct float-tensor positional arguments of a ``call_function`` node (``add(x, x)`` has one
    edge) or of the graph's output node, outputs those of nodes whose value is a float tensor (a ``getitem``) or
    a list or tuple holding one (the ``split`` list). Nodes that take a tensor keyword argument are left out
    (annotating them is an error).
    """
    meta = infer_meta(graph) if meta is None else meta
    return [i.target for items in items_by_node(graph, meta).values() for i in items]


@dataclass
class Ann:
    inputs: dict[str, Optional[Spec]] = field(default_factory=dict)
    output: Optional[Spec] = None
    allow: bool = True


class AnnSet:
    """Annotations being drawn: node -> inputs (insertion-ordered), output and allow_implicit_sharing."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.anns: dict[str, Ann] = {}

    def ann(self, node: str, allow: bool = True) -> Ann:
        if node not in self.anns:
            self.anns[node] = Ann(allow=allow)
        return self.anns[node]

    def set(self, target: Target, spec: Optional[Spec], allow: bool = True) -> None:
        if isinstance(target, EdgeRef):
            self.ann(target.node, allow).inputs[target.arg] = spec
        else:
            self.ann(target.name, allow).output = spec

    def spec(self, target: Target) -> Optional[Spec]:
        if isinstance(target, EdgeRef):
            a = self.anns.get(target.node)
            return a.inputs.get(target.arg) if a else None
        a = self.anns.get(target.name)
        return a.output if a else None

    def remove(self, target: Target) -> None:
        if isinstance(target, EdgeRef):
            a = self.anns.get(target.node)
            if a:
                a.inputs.pop(target.arg, None)
        elif target.name in self.anns:
            self.anns[target.name].output = None

    def keys(self) -> list[Target]:
        """Targets that carry a (non-None) spec, in annotation order."""
        out: list[Target] = []
        for n in self.graph.nodes:
            a = self.anns.get(n.name)
            if a is None:
                continue
            out.extend(EdgeRef(arg, n.name) for arg, spec in a.inputs.items() if spec is not None)
            if a.output is not None:
                out.append(NodeRef(n.name))
        return out

    def freeze(self) -> tuple[NodeAnnotation, ...]:
        return tuple(
            NodeAnnotation(n.name, tuple(self.anns[n.name].inputs.items()), self.anns[n.name].output,
                           self.anns[n.name].allow)
            for n in self.graph.nodes
            if n.name in self.anns
        )
