"""Observer configuration: what an observer or fake-quant instance is configured to do, as plain values.

Rule: an instance is described by its qualified class name, its fake quant's inner observer class, and the
fields a spec sets (dtype, quant_min, quant_max, qscheme, ch_axis for per-channel qschemes only, is_dynamic,
eps, scale/zero_point for fixed-qparams instances only, and for a derived instance the key sets of the groups
it derives from plus the name of its derive function). Names, never object identities, so two
implementations' instances compare equal when they are configured alike.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import torch
from torchao.quantization.pt2e import DerivedObserverOrFakeQuantize, FakeQuantizeBase
from torchao.quantization.pt2e.fake_quantize import FixedQParamsFakeQuantize
from torchao.quantization.pt2e.observer import FixedQParamsObserver

from harness.case.names import UnknownName
from harness.check.keys import CanonicalFormatError
from harness.fx.nodes import PER_CHANNEL_QSCHEMES
from harness.fx.ops import derive_fn_name

__all__ = ["ObserverConfig", "observer_config", "qualified_name"]


def _derive_fn_name(fn: Any) -> str:
    """A derive function's allow-listed name (stable across moves of its module), else its qualified name."""
    try:
        return derive_fn_name(fn)
    except (UnknownName, TypeError):
        return qualified_name(fn)


def qualified_name(obj: Any) -> str:
    """``module.QualName`` of a class or function; ``functools.partial`` is spelled out."""
    if isinstance(obj, functools.partial):
        return f"functools.partial({qualified_name(obj.func)})"
    mod = getattr(obj, "__module__", None) or "?"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__
    return f"{mod}.{name}"


def _scalar(value: Any) -> Any:
    """A tensor holding one number, or a number, as a Python number; anything else as is."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return [float(v) for v in value.flatten().tolist()]
        return value.item()
    return value


def _opt_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _opt_int(value: Any) -> Optional[int]:
    value = _scalar(value)
    return None if value is None else int(value)


def _opt_float(value: Any) -> Optional[float]:
    value = _scalar(value)
    if value is None or isinstance(value, list):
        return None
    return float(value)


@dataclass(frozen=True)
class ObserverConfig:
    """What an observer / fake-quant instance is configured to do (names and plain values only).

    ``cls``: qualified class name; ``inner``: a fake quant's ``activation_post_process`` class;
    ``ch_axis`` only for per-channel qschemes; ``scale``/``zero_point`` only for fixed-qparams
    instances; ``derived_from``: for a ``DerivedObserverOrFakeQuantize``, the key sets of the groups
    owning its ``obs_or_fqs`` in order (``None`` for an instance that observes no annotated key);
    ``derive_fn``: the qualified name of its ``derive_qparams_fn``.
    """

    cls: str
    inner: Optional[str] = None
    dtype: Optional[str] = None
    quant_min: Optional[int] = None
    quant_max: Optional[int] = None
    qscheme: Optional[str] = None
    ch_axis: Optional[int] = None
    is_dynamic: Optional[bool] = None
    scale: Optional[float] = None
    zero_point: Optional[int] = None
    eps: Optional[float] = None
    derived_from: Optional[tuple[Optional[tuple[str, ...]], ...]] = None
    derive_fn: Optional[str] = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {}
        for name in sorted(self.__dataclass_fields__):
            value = getattr(self, name)
            if value is None:
                continue
            if name == "derived_from":
                value = [None if g is None else list(g) for g in value]
            out[name] = value
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "observer") -> "ObserverConfig":
        if not isinstance(data, dict):
            raise CanonicalFormatError(f"{where}: expected an object, got {type(data).__name__}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise CanonicalFormatError(f"{where}: unknown field(s) {sorted(unknown)}")
        if not isinstance(data.get("cls"), str):
            raise CanonicalFormatError(f"{where}.cls: expected a class name string")
        kwargs = dict(data)
        if kwargs.get("derived_from") is not None:
            df = kwargs["derived_from"]
            if not isinstance(df, list):
                raise CanonicalFormatError(f"{where}.derived_from: expected a list")
            kwargs["derived_from"] = tuple(None if g is None else tuple(g) for g in df)
        return cls(**kwargs)


def observer_config(
    module: torch.nn.Module, group_keys_of: Optional[Mapping[int, tuple[str, ...]]] = None
) -> ObserverConfig:
    """The :class:`ObserverConfig` of an observer or fake-quant module.

    ``group_keys_of`` maps ``id(module)`` to the key set of the group it observes; it is used to name the
    sources of a ``DerivedObserverOrFakeQuantize``.
    """
    inner_mod = getattr(module, "activation_post_process", None)
    is_fq = isinstance(module, FakeQuantizeBase)
    inner = qualified_name(type(inner_mod)) if is_fq and isinstance(inner_mod, torch.nn.Module) else None
    qscheme = getattr(module, "qscheme", None)
    per_channel = isinstance(qscheme, torch.qscheme) and qscheme in PER_CHANNEL_QSCHEMES
    ch_axis = _opt_int(getattr(module, "ch_axis", None)) if per_channel else None
    is_dynamic = getattr(module, "is_dynamic", None)
    eps_holder = inner_mod if is_fq and isinstance(inner_mod, torch.nn.Module) else module
    eps = _opt_float(getattr(eps_holder, "eps", None))
    fixed = isinstance(module, (FixedQParamsObserver, FixedQParamsFakeQuantize))
    derived_from = derive_fn = None
    if isinstance(module, DerivedObserverOrFakeQuantize):
        lookup = group_keys_of or {}
        derived_from = tuple(lookup.get(id(m)) for m in module.obs_or_fqs)
        derive_fn = _derive_fn_name(module.derive_qparams_fn)
    return ObserverConfig(
        cls=qualified_name(type(module)),
        inner=inner,
        dtype=_opt_str(getattr(module, "dtype", None)),
        quant_min=_opt_int(getattr(module, "quant_min", None)),
        quant_max=_opt_int(getattr(module, "quant_max", None)),
        qscheme=_opt_str(qscheme),
        ch_axis=ch_axis,
        is_dynamic=None if is_dynamic is None else bool(is_dynamic),
        scale=_opt_float(module.scale) if fixed else None,
        zero_point=_opt_int(module.zero_point) if fixed else None,
        eps=eps,
        derived_from=derived_from,
        derive_fn=derive_fn,
    )
