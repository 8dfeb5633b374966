"""Observer matches spec: each expected group's observer has the class and configuration its spec asks for.

Rule: a ``QuantizationSpec`` builds its own ``observer_or_fake_quant_ctr`` (with its inner observer for a fake
quant); fixed qparams build ``FixedQParamsObserver`` in PTQ and ``FixedQParamsFakeQuantize`` in QAT; derived
specs build ``DerivedObserverOrFakeQuantize``. Then dtype, quant_min, quant_max, qscheme, ch_axis (per-channel),
is_dynamic, fixed scale/zero_point and derive function must match.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torchao.quantization.pt2e import DerivedObserverOrFakeQuantize
from torchao.quantization.pt2e.fake_quantize import FixedQParamsFakeQuantize
from torchao.quantization.pt2e.observer import FixedQParamsObserver
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationSpec,
)

from harness.check.invariants.context import CheckContext, Violation
from harness.check.invariants.naming import keys_text, obs_name
from harness.fx.nodes import PER_CHANNEL_QSCHEMES

__all__ = ["check_observer_matches_spec", "spec_mismatches"]

_MISSING = object()


def _ctor_class(ctor: Any) -> Any:
    """The class a constructor (a class, or ``Cls.with_args(...)``) builds."""
    p = getattr(ctor, "p", None)
    if p is not None and hasattr(p, "func"):
        return _ctor_class(p.func)
    return ctor


def _ctor_keywords(ctor: Any) -> dict:
    p = getattr(ctor, "p", None)
    return dict(getattr(p, "keywords", {}) or {}) if p is not None else {}


def _expected_observer(spec: Any, is_qat: bool) -> Optional[tuple[Any, Any, dict]]:
    """(class, inner class or None, {field: value}) a correct prepare builds for root spec ``spec``."""
    fields: dict[str, Any] = {}
    for name in ("dtype", "quant_min", "quant_max", "qscheme"):
        value = getattr(spec, name, None)
        if value is not None:
            fields[name] = value
    if getattr(spec, "qscheme", None) in PER_CHANNEL_QSCHEMES and getattr(spec, "ch_axis", None) is not None:
        fields["ch_axis"] = spec.ch_axis
    if isinstance(spec, QuantizationSpec):
        fields["is_dynamic"] = spec.is_dynamic
        ctor = spec.observer_or_fake_quant_ctr
        inner = _ctor_keywords(ctor).get("observer")
        return _ctor_class(ctor), (None if inner is None else _ctor_class(inner)), fields
    if isinstance(spec, FixedQParamsQuantizationSpec):
        fields["scale"] = spec.scale
        fields["zero_point"] = spec.zero_point
        if is_qat:
            return FixedQParamsFakeQuantize, FixedQParamsObserver, fields
        return FixedQParamsObserver, None, fields
    if isinstance(spec, DerivedQuantizationSpec):
        fields["derive_qparams_fn"] = spec.derive_qparams_fn
        return DerivedObserverOrFakeQuantize, None, fields
    return None


def _same(field_name: str, expected: Any, actual: Any) -> bool:
    if field_name == "derive_qparams_fn":
        return actual is expected or actual == expected
    if field_name in ("scale",):
        a = torch.as_tensor(actual, dtype=torch.float32).flatten()
        return a.numel() == 1 and a.item() == torch.tensor(float(expected), dtype=torch.float32).item()
    if field_name == "zero_point":
        a = torch.as_tensor(actual).flatten()
        return a.numel() == 1 and int(a.item()) == int(expected)
    return actual == expected


def spec_mismatches(mod: Any, spec: Any, is_qat: bool) -> Optional[list[tuple[str, str]]]:
    """How observer ``mod`` differs from what root spec ``spec`` asks for: ``(field, words)`` pairs (``field``:
    ``class``, ``inner`` or a configuration field), empty when it matches; None when ``spec`` builds no observer
    this checker knows (the module's rule)."""
    expected = _expected_observer(spec, is_qat)
    if expected is None:
        return None
    cls, inner_cls, fields = expected
    if type(mod) is not cls:
        return [("class", f"is a {type(mod).__name__}, the spec asks for {getattr(cls, '__name__', cls)}")]
    out = []
    if inner_cls is not None:
        inner = getattr(mod, "activation_post_process", None)
        if type(inner) is not inner_cls:
            out.append(("inner", f"wraps a {type(inner).__name__}, the spec asks for "
                                 f"{getattr(inner_cls, '__name__', inner_cls)}"))
    for fname, want in fields.items():
        got = getattr(mod, fname, _MISSING)
        if got is _MISSING or not _same(fname, want, got):
            out.append((fname, f"has {fname}={'<missing>' if got is _MISSING else _short(got)}, the spec asks for "
                               f"{_short(want)}"))
    return out


def check_observer_matches_spec(ctx: CheckContext) -> list[Violation]:
    """Each expected group's observer has the class and configuration its spec asks for.

    A ``QuantizationSpec`` builds its own ``observer_or_fake_quant_ctr`` (with its inner observer for a
    fake quant); fixed qparams build ``FixedQParamsObserver`` in PTQ and ``FixedQParamsFakeQuantize``
    in QAT; derived specs build ``DerivedObserverOrFakeQuantize``. Then dtype, quant_min, quant_max,
    qscheme, ch_axis (per-channel), is_dynamic, fixed scale/zero_point and derive function must match.
    """
    if ctx.expected_groups is None:
        return []
    om = ctx.observers()
    v = []
    for g in ctx.expected_groups:
        if g.spec is None:
            continue
        mod = om.group_module(g.keys)
        if mod is None:
            continue
        mismatches = spec_mismatches(mod, g.spec, ctx.is_qat) or []
        name = obs_name(om, mod) if mismatches else ""
        for fname, words in mismatches:
            v.append(Violation("observer_matches_spec", f"{name} observing {{{keys_text(g.keys)}}} {words}",
                               {"observer": name, "field": fname}))
    return v


def _short(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return str(value.tolist())
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    return str(value)
