"""The spec codec: case specs (``harness.case``) <-> torchao quantization specs, both directions from one table.

The rule: every spec kind is one row of :data:`SPEC_KINDS`, pairing a case spec class with a torchao spec class
and listing their fields as pairs (case field, torchao field) with the conversion each way. Names resolve only
through the allow-lists of ``harness.fx.ops``; spec targets (a node, or an ``(arg, node)`` edge) resolve in a
name -> fx Node mapping and come back only from nodes of that mapping. Every problem raises :class:`SpecError`
``"<where>: <problem>"``; ``harness.fx.build`` and ``harness.fx.extract`` report it as their own error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import torch
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationSpec,
    SharedQuantizationSpec,
)

from harness import case as C
from harness.fx import ops

__all__ = ["SpecError", "SpecField", "SpecKind", "SPEC_KINDS", "to_torchao", "to_case"]

Nodes = Mapping[str, torch.fx.Node]


class SpecError(ValueError):
    """A spec that cannot be converted; the message names where it sits and what is wrong."""


@dataclass(frozen=True)
class SpecField:
    """One field of a spec kind: its name on each side and the conversion each way (value, nodes -> value)."""

    case: str
    torchao: str
    to_torchao: Callable[[Any, Nodes], Any]
    to_case: Callable[[Any, Nodes], Any]


@dataclass(frozen=True)
class SpecKind:
    """A case spec class, the torchao spec class it stands for, and their fields."""

    case_type: type
    torchao_type: type
    fields: tuple[SpecField, ...]


# ---- targets: names <-> fx nodes ---------------------------------------------------------------


def _node(nodes: Nodes, name: Any) -> torch.fx.Node:
    try:
        return nodes[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown node {name!r}") from None


def _target_to_torchao(target: Any, nodes: Nodes) -> Any:
    if isinstance(target, C.NodeRef):
        return _node(nodes, target.name)
    if isinstance(target, C.EdgeRef):
        return (_node(nodes, target.arg), _node(nodes, target.node))
    raise ValueError(f"a spec target must be a NodeRef or EdgeRef, got {type(target).__name__}")


def _name_of(node: Any, nodes: Nodes) -> str:
    if isinstance(node, torch.fx.Node) and nodes.get(node.name) is node:
        return node.name
    raise ValueError(f"refers to {node!r}, which is not a node of this graph")


def _target_to_case(value: Any, nodes: Nodes) -> C.Target:
    if isinstance(value, torch.fx.Node):
        return C.NodeRef(_name_of(value, nodes))
    if isinstance(value, tuple) and len(value) == 2:
        return C.EdgeRef(_name_of(value[0], nodes), _name_of(value[1], nodes))
    raise ValueError(f"a spec target must be a node or an (arg, node) edge, got {value!r}")


def _each(convert: Callable[[Any, Nodes], Any], into: type) -> Callable[[Any, Nodes], Any]:
    """``convert`` over a sequence of targets (``derived_from``), naming the position at fault."""

    def run(values: Any, nodes: Nodes) -> Any:
        out = []
        for i, v in enumerate(values):
            try:
                out.append(convert(v, nodes))
            except ValueError as e:
                raise ValueError(f"derived_from[{i}]: {e}") from None
        return into(out)

    return run


# ---- plain fields ------------------------------------------------------------------------------


def _opt_int(name: str) -> Callable[[Any, Nodes], Optional[int]]:
    def check(value: Any, nodes: Nodes) -> Optional[int]:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an int, got {value!r}")
        return int(value)

    return check


def _finite_scale(value: Any, nodes: Nodes) -> float:
    scale = float(value)
    if not math.isfinite(scale):
        raise ValueError(f"scale {scale} is not finite")
    return scale


def _as_is(value: Any, nodes: Nodes) -> Any:
    return value


def _named(resolve: Callable[[Any], Any], name: Callable[[Any], Any], case: str, torchao: str = "") -> SpecField:
    """A field that is a name on the case side and the named torch object on the torchao side."""
    return SpecField(case, torchao or case, lambda v, n: resolve(v), lambda v, n: name(v))


def _int_field(name: str) -> SpecField:
    return SpecField(name, name, _as_is, _opt_int(name))


_DTYPE = _named(ops.resolve_dtype, ops.dtype_name, "dtype")
_QSCHEME = _named(ops.resolve_qscheme, ops.qscheme_name, "qscheme")
_RANGE = (_int_field("quant_min"), _int_field("quant_max"))
_IS_DYNAMIC = SpecField("is_dynamic", "is_dynamic", _as_is, lambda v, n: bool(v))

SPEC_KINDS: tuple[SpecKind, ...] = (
    SpecKind(C.QSpec, QuantizationSpec, (
        _DTYPE,
        _named(ops.resolve_ctor, ops.ctor_of, "observer", "observer_or_fake_quant_ctr"),
        *_RANGE, _QSCHEME, _int_field("ch_axis"), _IS_DYNAMIC,
    )),
    SpecKind(C.SharedSpec, SharedQuantizationSpec, (
        SpecField("target", "edge_or_node", _target_to_torchao, _target_to_case),
    )),
    SpecKind(C.DerivedSpec, DerivedQuantizationSpec, (
        SpecField("derived_from", "derived_from", _each(_target_to_torchao, list), _each(_target_to_case, tuple)),
        _named(ops.resolve_derive_fn, ops.derive_fn_name, "derive_fn", "derive_qparams_fn"),
        _DTYPE, *_RANGE, _QSCHEME, _int_field("ch_axis"), _IS_DYNAMIC,
    )),
    SpecKind(C.FixedSpec, FixedQParamsQuantizationSpec, (
        _DTYPE,
        SpecField("scale", "scale", _as_is, _finite_scale),
        SpecField("zero_point", "zero_point", _as_is, lambda v, n: int(v)),
        *_RANGE, _QSCHEME, _IS_DYNAMIC,
    )),
)


# ---- the two directions ------------------------------------------------------------------------


def _convert(spec: Any, nodes: Nodes, where: str, side: str, other: str, unknown: str) -> Any:
    """``spec``, a spec of ``side`` (``"case"`` or ``"torchao"``), as the spec of the ``other`` side, by its row of
    :data:`SPEC_KINDS`: each field read under its ``side`` name, converted by its ``to_<other>``, given under its
    ``other`` name. ``None`` stays ``None``. :class:`SpecError`: ``"<where>: <unknown> <its type>"`` for a spec of no
    row, ``"<where>: <message>"`` for a ValueError of a conversion (unknown or unnamed objects, bad targets, bad
    values, the spec's own checks)."""
    if spec is None:
        return None
    kind = next((k for k in SPEC_KINDS if isinstance(spec, getattr(k, f"{side}_type"))), None)
    if kind is None:
        raise SpecError(f"{where}: {unknown} {type(spec).__name__}")
    try:
        return getattr(kind, f"{other}_type")(**{
            getattr(f, other): getattr(f, f"to_{other}")(getattr(spec, getattr(f, side)), nodes) for f in kind.fields
        })
    except ValueError as e:
        raise SpecError(f"{where}: {e}") from None


def to_torchao(spec: Optional[C.Spec], nodes: Nodes, where: str = "spec") -> Any:
    """The torchao quantization spec for a case spec (``None`` stays ``None``); targets resolve in ``nodes``."""
    return _convert(spec, nodes, where, "case", "torchao", "not a spec:")


def to_case(spec: Any, nodes: Nodes, where: str = "spec") -> Optional[C.Spec]:
    """The case spec of a torchao quantization spec (``None`` stays ``None``); targets must be nodes of ``nodes``."""
    return _convert(spec, nodes, where, "torchao", "case", "unsupported spec type")
