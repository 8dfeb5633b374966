"""Annotated graphs and quantization specs as text for failure reports: one node per line with its value's dtype
and shape, each annotation under its node in a few words, and the nodes at fault marked with ``!``."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.fx import GraphModule, Node
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationSpec,
    SharedQuantizationSpec,
)

from harness.fx.nodes import ANNOTATION_KEY
from harness.suite.describe import target_name

__all__ = ["render_spec", "render_graph"]


def _node_ref(x: Any) -> str:
    if isinstance(x, Node):
        return x.name
    if isinstance(x, tuple) and len(x) == 2 and all(isinstance(t, Node) for t in x):
        return f"{x[0].name}->{x[1].name}"
    return repr(x)


def _range(spec: Any) -> str:
    dtype = str(getattr(spec, "dtype", "?")).replace("torch.", "")
    qmin, qmax = getattr(spec, "quant_min", None), getattr(spec, "quant_max", None)
    return f"{dtype}[{qmin},{qmax}]" if qmin is not None or qmax is not None else dtype


def _ctor_name(ctor: Any) -> str:
    p = getattr(ctor, "p", None)  # with_args PartialWrapper
    while p is not None and hasattr(p, "func"):
        ctor = p.func
        p = getattr(ctor, "p", None)
    return getattr(ctor, "__name__", type(ctor).__name__)


def render_spec(spec: Any) -> str:
    """A spec in a few words: ``int8[-128,127] per_tensor_affine HistogramObserver``, ``shared(x->linear)``..."""
    if spec is None:
        return "None"
    try:
        if isinstance(spec, SharedQuantizationSpec):
            return f"shared({_node_ref(spec.edge_or_node)})"
        qscheme = str(getattr(spec, "qscheme", None)).replace("torch.", "")
        axis = f" axis {spec.ch_axis}" if getattr(spec, "ch_axis", None) is not None and "channel" in qscheme else ""
        dyn = " dynamic" if getattr(spec, "is_dynamic", False) else ""
        if isinstance(spec, QuantizationSpec):
            return f"{_range(spec)} {qscheme}{axis} {_ctor_name(spec.observer_or_fake_quant_ctr)}{dyn}"
        if isinstance(spec, DerivedQuantizationSpec):
            sources = ", ".join(_node_ref(s) for s in spec.derived_from) if isinstance(
                spec.derived_from, (list, tuple)) else repr(spec.derived_from)
            fn = getattr(spec.derive_qparams_fn, "__name__", "?")
            return f"derived({sources}) {_range(spec)} {qscheme}{axis} by {fn}"
        if isinstance(spec, FixedQParamsQuantizationSpec):
            return f"fixed(scale={spec.scale}, zero_point={spec.zero_point}) {_range(spec)} {qscheme}"
    except Exception:  # noqa: BLE001 - garbage is shown as such
        pass
    text = repr(spec)
    return f"<{type(spec).__name__}: {text[:60]}>"


def _render_arg(a: Any) -> str:
    if isinstance(a, Node):
        return a.name
    if isinstance(a, (list, tuple)):
        return "[" + ", ".join(_render_arg(x) for x in a) + "]"
    if isinstance(a, float):
        return f"{a:g}"
    return repr(a) if not isinstance(a, torch.dtype) else str(a).replace("torch.", "")


def _render_val(node: Node) -> str:
    val = node.meta.get("val")
    if isinstance(val, torch.Tensor):
        return f"{str(val.dtype).replace('torch.', '')}{list(val.shape)}"
    if isinstance(val, (list, tuple)) and val and all(isinstance(v, torch.Tensor) for v in val):
        return "(" + ", ".join(f"{list(v.shape)}" for v in val) + ")"
    return ""


def _render_node(n: Node) -> str:
    if n.op == "placeholder":
        return f"{n.name}: input {_render_val(n)}"
    if n.op == "get_attr":
        return f"{n.name}: {n.target} {_render_val(n)}"
    if n.op == "output":
        return f"output({', '.join(_render_arg(a) for a in n.args[0])})" if isinstance(
            n.args[0], (list, tuple)) else f"output({_render_arg(n.args[0])})"
    target = target_name(n.target)
    if target.startswith("aten."):
        target = target[5:]
    if target.endswith(".default"):
        target = target[: -len(".default")]
    args = ", ".join([_render_arg(a) for a in n.args] + [f"{k}={_render_arg(v)}" for k, v in n.kwargs.items()])
    return f"{n.name} = {target}({args})  {_render_val(n)}"


def _render_annotation(qa: Any) -> list[str]:
    lines = []
    imap = getattr(qa, "input_qspec_map", None)
    if isinstance(imap, dict):
        for arg, spec in imap.items():
            if spec is not None:
                lines.append(f"        in  {_node_ref(arg)}: {render_spec(spec)}")
    else:
        lines.append(f"        annotation: {type(qa).__name__} {repr(qa)[:80]}")
    out = getattr(qa, "output_qspec", None)
    if out is not None:
        lines.append(f"        out {render_spec(out)}")
    if getattr(qa, "allow_implicit_sharing", True) is False:
        lines.append("        allow_implicit_sharing=False")
    return lines


def render_graph(gm: GraphModule, at_fault: Sequence[str] = (), max_lines: int = 150) -> str:
    """The graph, one node per line with its value's dtype and shape, and each annotation under its node.

    Nodes whose annotations are at fault are marked with ``!``.
    """
    fault = set(at_fault)
    lines = []
    for n in gm.graph.nodes:
        mark = "!" if n.name in fault else " "
        lines.append(f"  {mark} {_render_node(n)}".rstrip())
        qa = n.meta.get(ANNOTATION_KEY)
        if qa is not None:
            lines.extend(_render_annotation(qa))
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"  ... {len(lines) - max_lines} more lines"]
    return "\n".join(lines)
