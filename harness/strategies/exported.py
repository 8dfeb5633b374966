"""Exported cases: the ATen IR that ``torch.export`` gives for an ordinary module program, i.e. what quantizers see.

A graph drawn by :func:`harness.strategies.graphs.graphs` is written as a plain ``torch.nn.Module``
(:func:`graph_to_module`: ``nn.Conv2d``/``nn.Linear``/``nn.LayerNorm`` submodules, ``torch.relu(x)``, ``x + y``,
``x.view(...)``, ``torch.cat``, ``F.max_pool2d``, ``self.buf.copy_(y)``...), exported with
``harness.fx.export.export_module`` and read back with ``harness.fx.build.extract_case``
(:func:`export_graph`, cached: an export costs 0.1-1 s). The exported graph differs from the drawn one the way
real programs do: export's own node names, dotted attribute paths (``conv2d.weight``), argument spelling.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Iterable, Mapping, Optional, Union

import torch
from hypothesis import strategies as st

from harness.case import Case, Expected, Graph, Info, Node, Ref, TensorMeta
from harness.case.walks import has_tensor_kwarg, users_of
from harness.fx.build import build_module, example_inputs, extract_case
from harness.fx.export import export_module
from harness.strategies.adversarial import ADVERSARIAL_KINDS, ERROR_FOR_KIND, adversarial_annotations, applicable_kinds
from harness.strategies.annotations import annotations
from harness.strategies.cases import as_strategy
from harness.strategies.graphs import graphs
from harness.strategies.op_gens import BASIC_OPS
from harness.strategies.shapes import Meta, ShapeRuleError, arg_at
from harness.strategies.fast import assume

__all__ = ["graph_to_module", "export_graph", "exported_cases", "EXPORTABLE_OPS"]

F = torch.nn.functional

# Ops whose module spelling export turns back into the same op (the basic generated ops; tensor kwargs excluded).
EXPORTABLE_OPS: tuple[str, ...] = BASIC_OPS
_MODULE_OPS = ("aten.conv2d.default", "aten.linear.default", "aten.layer_norm.default")


def graph_to_module(graph: Graph, seed: int = 0) -> torch.nn.Module:
    """An ordinary ``torch.nn.Module`` program computing ``graph`` with everyday torch code.

    Conv2d/Linear/LayerNorm whose parameters belong to that one node become submodules named after the node;
    other parameters and buffers are attributes named after their get_attr node. Parameter values are those
    ``harness.fx.build`` gives for ``seed``. Graphs with tensor kwargs are rejected (:class:`ShapeRuleError`):
    export would move the tensor to a positional argument.
    """
    for n in graph.nodes:
        if n.op == "call_function" and has_tensor_kwarg(n):
            raise ShapeRuleError(n.name, "tensor kwargs cannot be written as a module program")
    values = build_module(graph, seed)
    return GraphProgram(graph, {n.name: values.get_parameter(n.target) if n.attr_kind == "parameter"
                                else values.get_buffer(n.target) for n in graph.nodes if n.op == "get_attr"})


def _module_for(node: Node, attrs: Mapping[str, torch.Tensor], users: Mapping[str, list[str]]) -> Optional[torch.nn.Module]:
    """An nn.Conv2d / nn.Linear / nn.LayerNorm owning ``node``'s parameters, or None if it cannot own them."""
    params = [a for a in node.args if isinstance(a, Ref) and a.name in attrs]
    if not params or any(users[p.name] != [node.name] for p in params):
        return None  # a tied or otherwise shared tensor: keep it an attribute
    if any(not isinstance(attrs[p.name], torch.nn.Parameter) for p in params):
        return None
    args = node.args
    bias = None
    if node.target == "aten.conv2d.default":
        w = attrs[args[1].name]
        bias = args[2] if len(args) > 2 else None
        groups = arg_at(args, {}, 6, "groups", 1)
        mod: torch.nn.Module = torch.nn.Conv2d(
            w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]), stride=arg_at(args, {}, 3, "stride", (1, 1)),
            padding=arg_at(args, {}, 4, "padding", (0, 0)), dilation=arg_at(args, {}, 5, "dilation", (1, 1)),
            groups=groups, bias=bias is not None)
    elif node.target == "aten.linear.default":
        w = attrs[args[1].name]
        bias = args[2] if len(args) > 2 else None
        mod = torch.nn.Linear(w.shape[1], w.shape[0], bias=bias is not None)
    elif node.target == "aten.layer_norm.default":
        if len(args) < 4 or not isinstance(args[2], Ref) or not isinstance(args[3], Ref):
            return None
        w, bias = attrs[args[2].name], args[3]
        mod = torch.nn.LayerNorm(tuple(args[1]), eps=arg_at(args, {}, 4, "eps", 1e-5))
    else:
        return None
    with torch.no_grad():
        mod.weight.copy_(w)
        if bias is not None:
            mod.bias.copy_(attrs[bias.name])
    return mod


class GraphProgram(torch.nn.Module):
    """Runs a case graph node by node with ordinary torch calls (see :func:`graph_to_module`)."""

    def __init__(self, graph: Graph, attrs: Mapping[str, torch.Tensor]) -> None:
        super().__init__()
        self._graph = graph
        self._owned_by_module: set[str] = set()
        users = users_of(graph)
        owned: set[str] = set()
        for n in graph.nodes:
            if n.op == "call_function" and n.target in _MODULE_OPS:
                mod = _module_for(n, attrs, users)
                if mod is not None:
                    self.add_module(n.name, mod)
                    self._owned_by_module.add(n.name)
                    owned.update(a.name for a in n.args if isinstance(a, Ref) and a.name in attrs)
        for name, value in attrs.items():
            if name in owned:
                continue
            if isinstance(value, torch.nn.Parameter):
                self.register_parameter(name, torch.nn.Parameter(value.detach().clone()))
            else:
                self.register_buffer(name, value.detach().clone())

    def forward(self, *inputs: torch.Tensor) -> tuple:
        env: dict[str, object] = {}
        for n, x in zip([n for n in self._graph.nodes if n.op == "placeholder"], inputs):
            env[n.name] = x
        for n in self._graph.nodes:
            if n.op == "get_attr" and hasattr(self, n.name):
                env[n.name] = getattr(self, n.name)
            elif n.op == "call_function":
                env[n.name] = self._run(n, env)
        (outs,) = self._graph.nodes[-1].args
        return tuple(env[r.name] for r in outs)

    def _run(self, n: Node, env):
        def v(a):
            if isinstance(a, Ref):
                return env[a.name]
            if isinstance(a, tuple):
                return [v(b) for b in a]
            return a

        if n.name in self._owned_by_module:  # the module owns the parameters: only the input is passed
            return getattr(self, n.name)(v(n.args[0]))
        args = [v(a) for a in n.args]
        kwargs = {k: v(a) for k, a in n.kwargs}
        t = n.target
        p = lambda i, key, default: arg_at(tuple(args), kwargs, i, key, default)  # noqa: E731
        if t == "aten.conv2d.default":
            return F.conv2d(args[0], args[1], p(2, "bias", None), p(3, "stride", 1), p(4, "padding", 0),
                            p(5, "dilation", 1), p(6, "groups", 1))
        if t == "aten.linear.default":
            return F.linear(args[0], args[1], p(2, "bias", None))
        if t == "aten.layer_norm.default":
            return F.layer_norm(args[0], args[1], p(2, "weight", None), p(3, "bias", None), p(4, "eps", 1e-5))
        if t == "aten.relu.default":
            return torch.relu(args[0])
        if t == "aten.sigmoid.default":
            return torch.sigmoid(args[0])
        if t == "aten.clone.default":
            return args[0].clone()
        if t == "aten.hardtanh.default":
            return F.hardtanh(args[0], p(1, "min_val", -1.0), p(2, "max_val", 1.0))
        if t == "aten.add.Tensor":
            alpha = kwargs.get("alpha", 1)
            return args[0] + args[1] if alpha == 1 else torch.add(args[0], args[1], alpha=alpha)
        if t == "aten.mul.Tensor":
            return args[0] * args[1]
        if t == "aten.minimum.default":
            return torch.minimum(args[0], args[1])
        if t == "aten.eq.Tensor":
            return args[0] == args[1]
        if t == "aten.cat.default":
            return torch.cat(args[0], p(1, "dim", 0))
        if t == "aten.stack.default":
            return torch.stack(args[0], p(1, "dim", 0))
        if t == "aten.split.Tensor":
            return torch.split(args[0], args[1], p(2, "dim", 0))
        if t == "getitem":
            return args[0][args[1]]
        if t == "aten.view.default":
            return args[0].view(args[1])
        if t == "aten.reshape.default":
            return args[0].reshape(args[1])
        if t == "aten.permute.default":
            return args[0].permute(args[1])
        if t == "aten.flatten.using_ints":
            return torch.flatten(args[0], p(1, "start_dim", 0), p(2, "end_dim", -1))
        if t == "aten.max_pool2d.default":
            return F.max_pool2d(args[0], args[1], p(2, "stride", None) or None, p(3, "padding", 0))
        if t == "aten.avg_pool2d.default":
            return F.avg_pool2d(args[0], args[1], p(2, "stride", None) or None, p(3, "padding", 0))
        if t == "aten.adaptive_avg_pool2d.default":
            return F.adaptive_avg_pool2d(args[0], args[1])
        if t == "aten.mean.dim":
            return args[0].mean(args[1], keepdim=p(2, "keepdim", False))
        if t == "aten.softmax.int":
            return F.softmax(args[0], args[1])
        if t == "aten.mm.default":
            return torch.mm(args[0], args[1])
        if t == "aten.bmm.default":
            return torch.bmm(args[0], args[1])
        if t == "aten.copy_.default":
            return args[0].copy_(args[1])
        if t == "aten.add_.Tensor":
            return args[0].add_(args[1])
        raise ShapeRuleError(n.name, f"no module spelling for {t!r}")


def _meta_of_value(value) -> Union[TensorMeta, tuple, None]:
    if isinstance(value, torch.Tensor):
        return TensorMeta(tuple(int(d) for d in value.shape), str(value.dtype).replace("torch.", ""))
    if isinstance(value, (list, tuple)) and all(isinstance(x, torch.Tensor) for x in value):
        return tuple(_meta_of_value(x) for x in value)
    return None


@functools.lru_cache(maxsize=512)
def export_graph(graph: Graph, seed: int = 0) -> tuple[Graph, tuple[tuple[str, object], ...]]:
    """``torch.export`` the module program of ``graph`` (:func:`graph_to_module`) and read the case back.

    Returns the extracted graph and its node values as ``(name, TensorMeta | tuple | None)`` pairs (from the
    FakeTensors export computed). Cached per graph.
    """
    gm = export_module(graph_to_module(graph, seed), example_inputs(graph, seed))
    exported = extract_case(gm).graph
    meta = tuple((n.name, _meta_of_value(n.meta.get("val"))) for n in gm.graph.nodes)
    return exported, meta


@st.composite
def exported_cases(
    draw,
    mode: str = "valid",
    is_qat: Union[bool, st.SearchStrategy[bool]] = st.booleans(),
    min_nodes: int = 1,
    max_nodes: int = 8,
    ops: Optional[Iterable[str]] = None,
    allow_implicit_sharing: st.SearchStrategy[bool] = st.booleans(),
    sharing_order: str = "any",
) -> Case:
    """Cases whose graph is what ``torch.export.export(m, inputs).module()`` gives for a random module program.

    Annotations are drawn for the exported graph (``mode`` valid or adversarial; adversarial cases carry
    ``expected.error`` and end ``info.tags`` with their kind).
    """
    qat = draw(as_strategy(is_qat))
    source = draw(graphs(min_nodes, max_nodes, EXPORTABLE_OPS if ops is None else ops, variants=False))
    graph, meta_pairs = export_graph(source)
    meta: Meta = dict(meta_pairs)  # type: ignore[arg-type]
    info = Info(title="exported", kind="scenario", tags=("generated", "exported", mode))
    if mode == "adversarial":
        possible = applicable_kinds(graph, ADVERSARIAL_KINDS, meta)
        assume(bool(possible))
        anns, kind = draw(adversarial_annotations(graph, possible, allow_implicit_sharing, qat, meta))
        return Case(graph, anns, is_qat=qat, expected=Expected(error=ERROR_FOR_KIND[kind]),
                    info=replace(info, tags=info.tags + (kind,)))
    anns = draw(annotations(graph, mode, allow_implicit_sharing, qat, sharing_order, meta))
    return Case(graph, anns, is_qat=qat, info=info)
