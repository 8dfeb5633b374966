"""Check 2, well-formed annotations: every annotation is a ``QuantizationAnnotation`` of known spec types whose
fields make sense (quant_min/quant_max within the dtype, per-channel axes inside the observed tensor, only
floating-point tensors observed, shared and derived references naming nodes of the graph), and the structure
(references, cycles, annotated inputs) passes the reference analysis :func:`prepare_impl.sharing_groups`.

A per-channel spec without ``ch_axis`` is a fault only where a constructor really receives ``ch_axis=None``: a
class whose name says ``PerChannel`` (torchao passes it the spec's axis), or a derived spec. A fake quant around a
per-channel observer (``FakeQuantize.with_args(observer=PerChannelMinMaxObserver)``) is sound with the axis
unset: it is not passed, and the observer keeps its default axis (torchao's own QAT configurations rely on it)."""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
from torch.fx import GraphModule, Node
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationAnnotation,
    QuantizationSpec,
    SharedQuantizationSpec,
)

import prepare_impl
from prepare_impl.observers import constructed_class
from harness.fx.nodes import ANNOTATION_KEY, PER_CHANNEL_QSCHEMES
from harness.suite.check_registry import WELL_FORMED
from harness.suite.describe import exc_line
from harness.suite.results import Problem

__all__ = ["dtype_range", "check_well_formed", "not_well_formed"]

_SUB_BYTE = {f"int{b}": (-(2 ** (b - 1)), 2 ** (b - 1) - 1) for b in range(1, 8)}
_SUB_BYTE.update({f"uint{b}": (0, 2**b - 1) for b in range(1, 8)})
_QUANTIZED = {"quint8": (0, 255), "qint8": (-128, 127), "qint32": (-(2**31), 2**31 - 1), "quint4x2": (0, 15)}


def dtype_range(dtype: Any) -> Optional[tuple[int, int]]:
    """The integer range a dtype can hold, or None for floating-point and other dtypes."""
    if not isinstance(dtype, torch.dtype):
        return None
    name = str(dtype).replace("torch.", "")
    if name in _SUB_BYTE:
        return _SUB_BYTE[name]
    if name in _QUANTIZED:
        return _QUANTIZED[name]
    if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
        return None
    try:
        info = torch.iinfo(dtype)
    except TypeError:
        return None
    return int(info.min), int(info.max)


def _rank(node: Node) -> Optional[int]:
    val = node.meta.get("val")
    return val.dim() if isinstance(val, torch.Tensor) else None


def _tensor_dtype(node: Node) -> Optional[torch.dtype]:
    val = node.meta.get("val")
    return val.dtype if isinstance(val, torch.Tensor) else None


def _is_ref(target: Any, nodes: set) -> bool:
    """A node of the graph or an (arg, node) edge of it."""
    return (isinstance(target, Node) and target in nodes) or (
        isinstance(target, tuple) and len(target) == 2 and all(isinstance(t, Node) and t in nodes for t in target))


def _ctor_name(spec: QuantizationSpec) -> str:
    return getattr(constructed_class(spec.observer_or_fake_quant_ctr), "__name__", "the constructor")


def _receives_unset_axis(spec: Any) -> bool:
    """Whether an unset ``ch_axis`` reaches a constructor as ``None`` (see the module docstring)."""
    if not isinstance(spec, QuantizationSpec):
        return True  # derived (DerivedObserverOrFakeQuantize gets ch_axis) and fixed-qparams specs
    ctr = spec.observer_or_fake_quant_ctr
    return not callable(ctr) or "PerChannel" in _ctor_name(spec)


def _check_spec(spec: Any, where: str, observed: Node, owner: str, nodes: set) -> list[Problem]:
    """Field-level checks of one spec; ``observed`` is the node whose value the spec quantizes."""
    out: list[Problem] = []

    def bad(msg: str) -> None:
        out.append(Problem(WELL_FORMED.name, f"{where}: {msg}", nodes=(owner,)))

    if spec is None:
        return out
    if isinstance(spec, SharedQuantizationSpec):
        if not _is_ref(spec.edge_or_node, nodes):
            bad(f"SharedQuantizationSpec refers to {spec.edge_or_node!r}, which is not a node or an (arg, node) edge "
                "of this graph")
        return out
    if not isinstance(spec, (QuantizationSpec, DerivedQuantizationSpec, FixedQParamsQuantizationSpec)):
        bad(f"{type(spec).__name__} is not a quantization spec (QuantizationSpec, SharedQuantizationSpec, "
            "DerivedQuantizationSpec or FixedQParamsQuantizationSpec)")
        return out
    dtype = spec.dtype
    if not isinstance(dtype, torch.dtype):
        bad(f"dtype {dtype!r} is not a torch.dtype")
        return out
    qmin, qmax = spec.quant_min, spec.quant_max
    for name, v in (("quant_min", qmin), ("quant_max", qmax)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            bad(f"{name} {v!r} is not an int")
            return out
    rng = dtype_range(dtype)
    if rng is not None:
        lo, hi = rng
        if qmin is not None and not lo <= qmin <= hi:
            bad(f"quant_min {qmin} is outside the range of {dtype} [{lo}, {hi}]")
        if qmax is not None and not lo <= qmax <= hi:
            bad(f"quant_max {qmax} is outside the range of {dtype} [{lo}, {hi}]")
    if qmin is not None and qmax is not None and qmin > qmax:
        bad(f"quant_min {qmin} > quant_max {qmax}")
    qscheme = spec.qscheme
    if qscheme is not None and not isinstance(qscheme, torch.qscheme):
        bad(f"qscheme {qscheme!r} is not a torch.qscheme")
        return out
    per_channel = qscheme in PER_CHANNEL_QSCHEMES
    ch_axis = getattr(spec, "ch_axis", None)
    if per_channel and ch_axis is None and _receives_unset_axis(spec):
        bad(f"per-channel qscheme {qscheme} without ch_axis"
            + (f": {_ctor_name(spec)} is called with ch_axis=None" if isinstance(spec, QuantizationSpec) else ""))
    if ch_axis is not None and per_channel:
        rank = _rank(observed)
        if isinstance(ch_axis, bool) or not isinstance(ch_axis, int):
            bad(f"ch_axis {ch_axis!r} is not an int")
        elif rank is not None and not -rank <= ch_axis < rank:
            bad(f"ch_axis {ch_axis} is out of range for {observed.name!r}, a tensor of rank {rank}")
    if isinstance(spec, QuantizationSpec) and not callable(spec.observer_or_fake_quant_ctr):
        bad(f"observer_or_fake_quant_ctr {spec.observer_or_fake_quant_ctr!r} is not callable")
    if isinstance(spec, FixedQParamsQuantizationSpec):
        scale = spec.scale
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not math.isfinite(scale) or scale <= 0:
            bad(f"scale {scale!r} is not a positive finite number")
        zp = spec.zero_point
        if isinstance(zp, bool) or not isinstance(zp, int):
            bad(f"zero_point {zp!r} is not an int")
        elif qmin is not None and qmax is not None and not qmin <= zp <= qmax:
            bad(f"zero_point {zp} is outside [quant_min, quant_max] = [{qmin}, {qmax}]")
    if isinstance(spec, DerivedQuantizationSpec):
        if not callable(spec.derive_qparams_fn):
            bad("derive_qparams_fn is not callable")
        sources = spec.derived_from
        if not isinstance(sources, (list, tuple)) or not sources:
            bad("derived_from is empty")
        else:
            for s in sources:
                if not _is_ref(s, nodes):
                    bad(f"derived_from names {s!r}, which is not a node or an (arg, node) edge of this graph")
    value_dtype = _tensor_dtype(observed)
    if value_dtype is not None and not value_dtype.is_floating_point and not spec.is_dynamic:
        bad(f"quantizes {observed.name!r}, a {value_dtype} tensor: only floating-point tensors can be observed")
    return out


def check_well_formed(gm: GraphModule) -> list[Problem]:
    """Check 2 on an annotated graph: types and fields of every annotation and spec, then the structure (shared and
    derived references, cycles, inputs) with :func:`prepare_impl.sharing_groups`."""
    problems: list[Problem] = []
    nodes = set(gm.graph.nodes)
    for n in gm.graph.nodes:
        if ANNOTATION_KEY not in n.meta:
            continue
        qa = n.meta[ANNOTATION_KEY]
        where = f"annotation of {n.name!r}"
        if not isinstance(qa, QuantizationAnnotation):
            problems.append(Problem(WELL_FORMED.name, f"{where} is a {type(qa).__name__}, not a QuantizationAnnotation",
                                    nodes=(n.name,)))
            continue
        if not isinstance(qa.input_qspec_map, dict):
            problems.append(Problem(WELL_FORMED.name, f"{where}: input_qspec_map is a "
                                    f"{type(qa.input_qspec_map).__name__}, not a dict", nodes=(n.name,)))
            continue
        inputs = set(n.all_input_nodes)
        for arg, spec in qa.input_qspec_map.items():
            if not isinstance(arg, Node) or arg not in nodes:
                problems.append(Problem(WELL_FORMED.name, f"{where}: input_qspec_map key {arg!r} is not a node of this "
                                        "graph", nodes=(n.name,)))
                continue
            if arg not in inputs:
                continue  # reported by sharing_groups (NotAnInputError) below
            problems.extend(_check_spec(spec, f"{where}: input {arg.name!r}", arg, n.name, nodes))
        problems.extend(_check_spec(qa.output_qspec, f"{where}: output", n, n.name, nodes))
    if problems:
        return problems
    try:
        prepare_impl.sharing_groups(gm)
    except prepare_impl.AnnotationError as e:
        problems.append(Problem(WELL_FORMED.name, f"{type(e).__name__}: {e}", nodes=_names_in(str(e), gm)))
    except Exception as e:  # noqa: BLE001 - should not happen on annotations that passed the checks above
        problems.append(Problem(WELL_FORMED.name, f"the sharing analysis of the annotations failed: {exc_line(e)}"))
    return problems


def not_well_formed(gm: GraphModule) -> bool:
    """Whether :func:`check_well_formed` finds an error on ``gm``."""
    return any(p.level == "error" for p in check_well_formed(gm))


def _names_in(text: str, gm: GraphModule) -> tuple[str, ...]:
    return tuple(n.name for n in gm.graph.nodes if f"'{n.name}'" in text)
