"""Keys: the things annotations attach specs to, and their collection from a graph (pure, no mutation).

A *key* is either an input edge ``(arg, node)`` (the value of ``arg`` as consumed by ``node``) or a node
(its output), exactly as torchao's ``EdgeOrNode``. Keys are listed in *annotation order*: graph order of the
annotated nodes; within a node, its ``input_qspec_map`` entries in insertion order, then its output.

Rules (see also ``prepare_impl/__init__.py``):

* An input entry whose spec is ``None`` and an ``output_qspec`` of ``None`` are not keys: nothing is observed.
* An input entry must name a node that is an input of the annotated node (``NotAnInputError`` otherwise).
* An annotated node must not take a tensor as keyword argument (``TensorKwargError``): prepare observes only
  positional arguments, so the tensor would silently stay in float.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from torch.fx import GraphModule, Node
from torch.fx.node import map_arg
from torchao.quantization.pt2e.quantizer.quantizer import Q_ANNOTATION_KEY as ANNOTATION_KEY

from prepare_impl.errors import NotAnInputError, TensorKwargError, UnknownSpecError
from prepare_impl.specs import SPEC_TYPES

Edge = tuple[Node, Node]
Key = Union[Edge, Node]


def describe(key: Any) -> str:
    """A human-readable name for a key: ``(arg -> node)`` for an edge, ``node`` for an output."""
    if isinstance(key, tuple) and len(key) == 2:
        a, n = key
        return f"edge ({_name(a)} -> {_name(n)})"
    return f"output of {_name(key)}"


def _name(x: Any) -> str:
    return repr(x.name) if isinstance(x, Node) else repr(x)


def is_edge(key: Key) -> bool:
    return isinstance(key, tuple)


def annotation_of(node: Node):
    return node.meta.get(ANNOTATION_KEY)


@dataclass(frozen=True)
class AnnotatedKeys:
    """The keys of a graph in annotation order, each with its spec."""

    keys: tuple[Key, ...]
    specs: tuple[Any, ...]
    index: dict  # Key -> position in ``keys``

    def spec_of(self, key: Key):
        return self.specs[self.index[key]]


def _nodes_in(value: Any) -> list[Node]:
    """The fx Nodes inside an argument, in order (torch.fx's own traversal of nested containers)."""
    found: list[Node] = []
    map_arg(value, found.append)
    return found


def collect_keys(model: GraphModule) -> AnnotatedKeys:
    """Every key of ``model`` with its spec, in annotation order; validates inputs and kwargs."""
    keys: list[Key] = []
    specs: list[Any] = []
    for node in model.graph.nodes:
        qa = annotation_of(node)
        if qa is None:
            continue
        for kwarg, value in node.kwargs.items():
            for tensor in _nodes_in(value):
                raise TensorKwargError(node.name, kwarg, repr(tensor.name))
        inputs = set(node.all_input_nodes)
        for arg, spec in qa.input_qspec_map.items():
            if not isinstance(arg, Node) or arg not in inputs:
                raise NotAnInputError(node.name, _name(arg))
            if spec is None:
                continue
            if not isinstance(spec, SPEC_TYPES):
                raise UnknownSpecError(f"input_qspec_map[{arg.name!r}] of node {node.name!r}", spec)
            keys.append((arg, node))
            specs.append(spec)
        if qa.output_qspec is not None:
            if not isinstance(qa.output_qspec, SPEC_TYPES):
                raise UnknownSpecError(f"output_qspec of node {node.name!r}", qa.output_qspec)
            keys.append(node)
            specs.append(qa.output_qspec)
    index = {k: i for i, k in enumerate(keys)}
    return AnnotatedKeys(tuple(keys), tuple(specs), index)
