"""The reverse of ``harness.fx.build``: reading a :class:`harness.case.Case` out of an annotated GraphModule.

Typical use: export a model with ``harness.fx.export.export_module(m, inputs)``, let a real quantizer
``annotate`` it, and call :func:`extract_case` to get a case for the corpus or for the fuzzer to mutate.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

from harness import case as C
from harness.case import names
from harness.fx import ops, specs
from harness.fx.export import GUARDS_FN
from harness.fx.nodes import ANNOTATION_KEY

__all__ = ["UnsupportedGraph", "extract_case", "extract_graph", "extract_annotations", "stateless_module"]


class UnsupportedGraph(ValueError):
    """A GraphModule that cannot be written as a case; the message names the node (and op or value) at fault."""


def _arg(node: torch.fx.Node, value: Any, nodes: dict[str, torch.fx.Node], path: str) -> Any:
    if isinstance(value, torch.fx.Node):
        if nodes.get(value.name) is not value:
            raise UnsupportedGraph(f"node {node.name!r}: {path}: refers to node {value.name!r} of another graph")
        return C.Ref(value.name)
    if isinstance(value, (list, tuple)):
        return tuple(_arg(node, v, nodes, f"{path}[{i}]") for i, v in enumerate(value))
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    try:
        const = ops.const_of(value)
    except ops.UnknownName as e:
        raise UnsupportedGraph(f"node {node.name!r}: {path}: {e}") from None
    if const is None:
        raise UnsupportedGraph(f"node {node.name!r}: {path}: unsupported value of type {type(value).__name__}")
    return const


def _tensor_meta(node: torch.fx.Node, value: Any) -> C.TensorMeta:
    if not isinstance(value, torch.Tensor):
        raise UnsupportedGraph(f"node {node.name!r}: {node.op} without a tensor value (meta['val'])")
    shape = []
    for d in value.shape:
        if not isinstance(d, int):
            raise UnsupportedGraph(f"node {node.name!r}: symbolic shape {tuple(value.shape)} is not supported")
        shape.append(int(d))
    dtype = str(value.dtype).removeprefix("torch.")
    if dtype not in names.TENSOR_DTYPE_NAMES:
        raise UnsupportedGraph(f"node {node.name!r}: {ops.UnknownName('tensor dtype', dtype)}")
    return C.TensorMeta(tuple(shape), dtype)


def _attr(gm: torch.fx.GraphModule, node: torch.fx.Node) -> tuple[Any, str]:
    owner: Any = gm
    *prefix, leaf = str(node.target).split(".")
    try:
        for part in prefix:
            owner = getattr(owner, part)
        value = getattr(owner, leaf)
    except AttributeError:
        raise UnsupportedGraph(f"node {node.name!r}: get_attr of missing attribute {node.target!r}") from None
    if isinstance(value, torch.nn.Parameter):
        return value, "parameter"
    if isinstance(value, torch.Tensor):
        return value, "buffer"  # registered buffers, and plain tensor constants (built back as buffers)
    raise UnsupportedGraph(f"node {node.name!r}: get_attr of a {type(value).__name__} ({node.target!r})")


def stateless_module(node: torch.fx.Node, target: str) -> str:
    """The ``torch.nn`` module without parameters ``node``'s op was called through (the innermost entry of its
    ``nn_module_stack``, a class or its dotted name), when it is one of ``STATELESS_MODULES[target]``; else ``""``."""
    stack = node.meta.get("nn_module_stack")
    allowed = names.STATELESS_MODULES.get(target, ())
    if not stack or not allowed:
        return ""
    cls = list(stack.values())[-1][1]
    module, _, name = (cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}").rpartition(".")
    return name if name in allowed and module.startswith("torch.nn.modules") else ""


def extract_graph(gm: torch.fx.GraphModule) -> C.Graph:
    """The case graph of ``gm``: every node with its name, op, args and kwargs; tensors for inputs/attributes.

    Raises :class:`UnsupportedGraph` for ops outside the allow-list, ``call_module``/``call_method`` nodes
    (except torch.export's unused ``_guards_fn`` call, which is dropped) and values a case cannot hold.
    """
    nodes = {n.name: n for n in gm.graph.nodes}
    out: list[C.Node] = []
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            out.append(C.Node(n.name, "placeholder", tensor=_tensor_meta(n, n.meta.get("val"))))
        elif n.op == "get_attr":
            value, kind = _attr(gm, n)
            out.append(C.Node(n.name, "get_attr", str(n.target), tensor=_tensor_meta(n, value), attr_kind=kind))
        elif n.op == "call_function":
            try:
                target = ops.op_name(n.target)
            except ops.UnknownName:
                raise UnsupportedGraph(f"node {n.name!r}: op {_describe(n.target)} is not supported") from None
            args = tuple(_arg(n, a, nodes, f"args[{i}]") for i, a in enumerate(n.args))
            kwargs = tuple((k, _arg(n, v, nodes, f"kwargs[{k!r}]")) for k, v in n.kwargs.items())
            out.append(C.Node(n.name, "call_function", target, args, kwargs, module=stateless_module(n, target)))
        elif n.op == "output":
            args = tuple(_arg(n, a, nodes, f"args[{i}]") for i, a in enumerate(n.args))
            out.append(C.Node(n.name, "output", args=args))
        elif n.op == "call_module" and n.target == GUARDS_FN and not n.users:
            continue
        else:
            raise UnsupportedGraph(f"node {n.name!r}: {n.op} {_describe(n.target)} is not supported")
    return C.Graph(tuple(out))


def _describe(target: Any) -> str:
    return repr(str(target))


def _case_spec(spec: Any, nodes: dict[str, torch.fx.Node], where: str) -> Optional[C.Spec]:
    try:
        return specs.to_case(spec, nodes, where)
    except specs.SpecError as e:
        raise UnsupportedGraph(str(e)) from None


def extract_annotations(gm: torch.fx.GraphModule) -> tuple[C.NodeAnnotation, ...]:
    """The annotations of ``gm``'s nodes, in graph order; ``input_qspec_map`` order is kept."""
    nodes = {n.name: n for n in gm.graph.nodes}
    out = []
    for n in gm.graph.nodes:
        qa = n.meta.get(ANNOTATION_KEY)
        if qa is None:
            continue
        where = f"annotation of {n.name!r}"
        if not isinstance(qa, QuantizationAnnotation):
            raise UnsupportedGraph(f"{where}: not a QuantizationAnnotation but {type(qa).__name__}")
        if not isinstance(qa.input_qspec_map, dict):
            raise UnsupportedGraph(f"{where}: input_qspec_map is not a dict but {type(qa.input_qspec_map).__name__}")
        inputs = []
        for arg, spec in qa.input_qspec_map.items():
            if not isinstance(arg, torch.fx.Node) or nodes.get(arg.name) is not arg:
                raise UnsupportedGraph(f"{where}: input key {arg!r} is not a node of this graph")
            inputs.append((arg.name, _case_spec(spec, nodes, f"{where}: input {arg.name!r}")))
        out.append(
            C.NodeAnnotation(
                node=n.name,
                inputs=tuple(inputs),
                output=_case_spec(qa.output_qspec, nodes, f"{where}: output"),
                allow_implicit_sharing=bool(qa.allow_implicit_sharing),
            )
        )
    return tuple(out)


def extract_case(gm: torch.fx.GraphModule, is_qat: bool = False, info: Optional[C.Info] = None) -> C.Case:
    """The case of an annotated GraphModule (graph, annotations, ``is_qat`` and ``info`` as given)."""
    return C.Case(
        graph=extract_graph(gm),
        annotations=extract_annotations(gm),
        is_qat=is_qat,
        info=info if info is not None else C.Info(),
    )
