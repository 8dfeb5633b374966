"""Building the one observer (PTQ) or fake quant (QAT) instance of each sharing group from its spec.

* ``QuantizationSpec``: its ``observer_or_fake_quant_ctr`` called with the spec's dtype, quant_min, quant_max,
  qscheme, is_dynamic, and ch_axis only when the constructed class is a per-channel one (its name says
  ``PerChannel``; per-tensor observers do not take ``ch_axis``) or a fake quant whose ``observer=`` is one and the
  spec sets the axis (torchao drops a set axis there; an unset one keeps the observer's default, see
  ``_receives_ch_axis``). The constructor decides PTQ vs QAT.
* ``FixedQParamsQuantizationSpec``: a ``FixedQParamsObserver`` with the spec's fields in PTQ, wrapped in a
  ``FixedQParamsFakeQuantize`` in QAT.
* ``DerivedQuantizationSpec``: a ``DerivedObserverOrFakeQuantize`` reading the instances of the groups in
  ``derived_from`` (so those are created first, in ``SharingAnalysis.creation_order``).

Each is built as ``ctr.with_args(**fields)()``, torchao's classes cloned from an equal earlier construction
(:mod:`prepare_impl.observer_clone`). Instances are moved to the model's device. ``observer_map`` gives every key
its group's instance, in annotation order: the mapping torchao hands to ``Quantizer.prepare_obs_or_fq_callback``.
"""

from __future__ import annotations

import dataclasses

import torch
from torchao.quantization.pt2e import DerivedObserverOrFakeQuantize
from torchao.quantization.pt2e.fake_quantize import FixedQParamsFakeQuantize
from torchao.quantization.pt2e.observer import FixedQParamsObserver, PartialWrapper
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationSpec,
)

from prepare_impl.errors import UnknownSpecError
from prepare_impl.grouping import Group, SharingAnalysis
from prepare_impl.observer_clone import construct


def constructed_class(ctr) -> type:
    """The class an observer constructor builds (``Cls`` or ``Cls.with_args(...)``)."""
    if isinstance(ctr, PartialWrapper):
        return ctr.p.func
    return ctr


def is_per_channel_constructor(ctr) -> bool:
    """Whether ``ctr`` builds a per-channel observer, or a fake quant around one (``observer=`` kwarg).

    torchao looks only at the outer class name, so ``FakeQuantize.with_args(observer=PerChannelMinMaxObserver)``
    loses the spec's ch_axis there (it falls back to the observer's default, 0); here the axis is kept.
    """
    if "PerChannel" in constructed_class(ctr).__name__:
        return True
    inner = ctr.p.keywords.get("observer") if isinstance(ctr, PartialWrapper) else None
    return inner is not None and "PerChannel" in constructed_class(inner).__name__


def _receives_ch_axis(ctr, ch_axis) -> bool:
    """Whether the constructor is called with the spec's ``ch_axis``.

    A per-channel class (its name says ``PerChannel``) gets it as the spec has it, as in torchao. A fake quant
    around a per-channel observer gets it only when the spec sets it: then the axis is never dropped (torchao drops
    it), and an unset axis leaves the observer's default, as torchao does (``None`` would reach the fused fake-quant
    op, which requires an int). Per-tensor constructors never get it.
    """
    if "PerChannel" in constructed_class(ctr).__name__:
        return True
    return ch_axis is not None and is_per_channel_constructor(ctr)


def _spec_fields(spec, drop: tuple[str, ...] = ()) -> dict:
    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec) if f.name not in drop}


def build_observer(group: Group, instances: dict[int, torch.nn.Module], is_qat: bool) -> torch.nn.Module:
    """The observer or fake quant of ``group``; ``instances`` holds those of the groups it derives from."""
    spec = group.spec
    if isinstance(spec, QuantizationSpec):
        kwargs = _spec_fields(spec, drop=("observer_or_fake_quant_ctr",))
        if not _receives_ch_axis(spec.observer_or_fake_quant_ctr, spec.ch_axis):
            kwargs.pop("ch_axis")
        return construct(spec.observer_or_fake_quant_ctr, **kwargs)
    if isinstance(spec, FixedQParamsQuantizationSpec):
        if is_qat:
            return construct(FixedQParamsFakeQuantize, observer=FixedQParamsObserver.with_args(**_spec_fields(spec)))
        return construct(FixedQParamsObserver, **_spec_fields(spec))
    if isinstance(spec, DerivedQuantizationSpec):
        return DerivedObserverOrFakeQuantize(
            dtype=spec.dtype,
            obs_or_fqs=[instances[g] for g in group.derived_from],
            derive_qparams_fn=spec.derive_qparams_fn,
            quant_min=spec.quant_min,
            quant_max=spec.quant_max,
            qscheme=spec.qscheme,
            ch_axis=spec.ch_axis,
        )
    raise UnknownSpecError(f"the spec of the group of {group.members[0]}", spec)


def build_observers(analysis: SharingAnalysis, is_qat: bool, device=None) -> dict[int, torch.nn.Module]:
    """One instance per group, by group index."""
    instances: dict[int, torch.nn.Module] = {}
    for g in analysis.creation_order:
        obs = build_observer(analysis.groups[g], instances, is_qat)
        if device is not None:
            obs.to(device)
        instances[g] = obs
    return instances


def observer_map(analysis: SharingAnalysis, instances: dict[int, torch.nn.Module]) -> dict:
    """Every key (in annotation order) to its group's instance."""
    return {key: instances[analysis.group_of[key]] for key in analysis.annotated.keys}
