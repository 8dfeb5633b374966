"""The specs valid annotations draw from, one strategy or builder per role.

The rule: every spec is one a correct quantizer could emit. Activations: per-tensor int8/uint8/int16, full or
restricted ranges (each including 0), affine or symmetric (uint8 only affine), rarely dynamic, with near misses
of a base spec (differing in one thing) so implicit sharing meets almost-compatible specs. Weights: int8
symmetric, per-channel with an in-range ``ch_axis`` or per-tensor. Biases: int32, derived from the activation and
weight edges with the derive functions of ``harness.fx.derive``. Fixed qparams: the [0, 1] outputs of
sigmoid/softmax. Observers come from the allow-list of ``harness.fx.ops`` (fake quants for QAT).
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from harness.case import Ctor, DerivedSpec, FixedSpec, QSpec, Target
from harness.strategies.reuse import BOOLS, ints, reused, sampled

__all__ = [
    "OBS",
    "FQ",
    "DERIVE_PER_TENSOR",
    "DERIVE_PER_CHANNEL",
    "INT32_MIN",
    "INT32_MAX",
    "act_qspec",
    "act_palette",
    "weight_qspec",
    "fixed_spec",
    "bias_derived",
]

_OBS = "torchao.quantization.pt2e.observer."
_FQ = "torchao.quantization.pt2e.fake_quantize."
OBS = {n: Ctor(_OBS + n) for n in (
    "MinMaxObserver", "MovingAverageMinMaxObserver", "HistogramObserver", "PerChannelMinMaxObserver",
    "MovingAveragePerChannelMinMaxObserver", "PlaceholderObserver")}
FQ = {n: Ctor(_FQ + n) for n in ("FakeQuantize", "FusedMovingAvgObsFakeQuantize")}
DERIVE_PER_TENSOR = "harness.derive.bias_qparams_per_tensor"
DERIVE_PER_CHANNEL = "harness.derive.bias_qparams_per_channel"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

_ACT_RANGES = (
    ("int8", -128, 127), ("uint8", 0, 255), ("int8", None, None), ("int8", -127, 127), ("uint8", None, None),
    ("int16", -32768, 32767), ("int16", -32767, 32767),
)


@reused
@st.composite
def _act_observer(draw, is_qat: bool) -> Ctor:
    if is_qat and draw(ints(0, 3)):
        return draw(sampled([
            Ctor(FQ["FakeQuantize"].qualname, (("observer", OBS["MovingAverageMinMaxObserver"]),)),
            FQ["FusedMovingAvgObsFakeQuantize"],
            Ctor(FQ["FakeQuantize"].qualname, (("observer", OBS["MinMaxObserver"]),)),
        ]))
    ctor = draw(sampled([OBS["MinMaxObserver"], OBS["HistogramObserver"], OBS["MovingAverageMinMaxObserver"]]))
    if draw(BOOLS):
        ctor = Ctor(ctor.qualname, (("eps", 2.0**-12),))
    return ctor


@reused
@st.composite
def act_qspec(draw, is_qat: bool) -> QSpec:
    """An activation spec: per-tensor, any of int8/uint8/int16, full or restricted range; rarely dynamic."""
    dtype, lo, hi = draw(sampled(_ACT_RANGES))
    if not is_qat and draw(ints(0, 29)) == 0:
        return QSpec(dtype="int8", observer=OBS["PlaceholderObserver"], quant_min=-128, quant_max=127,
                     qscheme="per_tensor_affine", is_dynamic=True)
    schemes = ["per_tensor_affine"] + (["per_tensor_symmetric"] if dtype != "uint8" else [])
    return QSpec(dtype=dtype, observer=draw(_act_observer(is_qat)), quant_min=lo, quant_max=hi,
                 qscheme=draw(sampled(schemes)))


# Alternative ranges per dtype (all valid: each includes 0 and stays within the dtype).
_RANGES = {
    "int8": ((-128, 127), (-127, 127), (None, None)),
    "uint8": ((0, 255), (None, None), (0, 127)),
    "int16": ((-32768, 32767), (-32767, 32767)),
}


_BOUNDS = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def _holds(dtype: str, spec: QSpec) -> bool:
    """Whether ``dtype`` can carry ``spec``'s range and qscheme (uint8 is affine only)."""
    if dtype == "uint8" and spec.qscheme != "per_tensor_affine":
        return False
    lo, hi = _BOUNDS[dtype]
    return spec.quant_min is None or (lo <= spec.quant_min and spec.quant_max <= hi)


@reused
@st.composite
def _near_miss(draw, base: QSpec, is_qat: bool) -> QSpec:
    """A spec that differs from ``base`` in one thing: its range, its qscheme, its dtype (with the dtype's range, or
    alone), whether it is dynamic, only its observer (which keeps them compatible), or everything. Such pairs are
    what implicit sharing must tell apart: each of dtype, quant_min/quant_max, qscheme and is_dynamic alone."""
    if base.is_dynamic:  # the same spec, static: differs in is_dynamic only
        return replace(base, is_dynamic=False, observer=draw(_act_observer(is_qat))) if draw(BOOLS) \
            else draw(act_qspec(is_qat))
    how = draw(sampled(["range", "qscheme", "dtype", "range", "qscheme", "observer", "independent",
                                "dtype_only", "dynamic", "dynamic"]))
    if how == "dtype_only":  # the same range and qscheme in another dtype that holds it
        others = [d for d in _BOUNDS if d != base.dtype and _holds(d, base)]
        if others:
            return replace(base, dtype=draw(sampled(others)))
    if how == "dynamic" and not is_qat:  # the same fields, dynamic (a placeholder observer, as dynamic specs use)
        return replace(base, is_dynamic=True, observer=OBS["PlaceholderObserver"])
    if how == "range":
        lo, hi = draw(sampled([r for r in _RANGES[base.dtype] if r != (base.quant_min, base.quant_max)]))
        return replace(base, quant_min=lo, quant_max=hi)
    if how == "qscheme" and base.dtype != "uint8":
        flip = {"per_tensor_affine": "per_tensor_symmetric", "per_tensor_symmetric": "per_tensor_affine"}
        return replace(base, qscheme=flip[base.qscheme])
    if how == "observer":
        return replace(base, observer=draw(_act_observer(is_qat)))
    if how == "dtype":
        dtype = draw(sampled([d for d in _RANGES if d != base.dtype]))
        lo, hi = _RANGES[dtype][0]
        qscheme = "per_tensor_affine" if dtype == "uint8" else base.qscheme
        return replace(base, dtype=dtype, quant_min=lo, quant_max=hi, qscheme=qscheme)
    return draw(act_qspec(is_qat))


@reused
@st.composite
def act_palette(draw, is_qat: bool) -> list[QSpec]:
    """1-3 activation specs for one annotation set: a base and near misses of it (so equal, compatible and
    almost-compatible specs meet on the same tensors)."""
    base = draw(act_qspec(is_qat))
    return [base] + [draw(_near_miss(base, is_qat)) for _ in range(draw(ints(1, 2)))]


@reused
@st.composite
def weight_qspec(draw, is_qat: bool, rank: int) -> QSpec:
    """A weight spec: int8 symmetric, per-channel (in-range ``ch_axis``, a PerChannel observer; rank 2 or more)
    or per-tensor."""
    lo = draw(sampled([-127, -128]))
    # per-channel, the common choice for weights (per-channel observers need 2 dims at least: a 1-d attribute,
    # e.g. a bias annotated as an output, is per-tensor)
    if rank >= 2 and draw(sampled([True, True, False])):
        ch = draw(ints(0, rank - 1))  # any in-range axis; 0 (the observers' default) is the common one
        if is_qat:
            observer = Ctor(FQ["FakeQuantize"].qualname,
                            (("observer", OBS["MovingAveragePerChannelMinMaxObserver"]), ("ch_axis", ch)))
        else:
            observer = draw(sampled([OBS["PerChannelMinMaxObserver"],
                                             OBS["MovingAveragePerChannelMinMaxObserver"]]))
        return QSpec(dtype="int8", observer=observer, quant_min=lo, quant_max=127,
                     qscheme="per_channel_symmetric", ch_axis=ch)
    if is_qat:
        observer = Ctor(FQ["FakeQuantize"].qualname, (("observer", OBS["MovingAverageMinMaxObserver"]),))
    else:
        observer = OBS["MinMaxObserver"]
    return QSpec(dtype="int8", observer=observer, quant_min=lo, quant_max=127, qscheme="per_tensor_symmetric")


def fixed_spec(dtype: str) -> FixedSpec:
    if dtype == "uint8":
        return FixedSpec(dtype="uint8", scale=1.0 / 256.0, zero_point=0, quant_min=0, quant_max=255,
                         qscheme="per_tensor_affine")
    return FixedSpec(dtype="int8", scale=1.0 / 256.0, zero_point=-128, quant_min=-128, quant_max=127,
                     qscheme="per_tensor_affine")


def bias_derived(act: Target, weight: Target, per_channel: bool) -> DerivedSpec:
    return DerivedSpec(
        derived_from=(act, weight),
        derive_fn=DERIVE_PER_CHANNEL if per_channel else DERIVE_PER_TENSOR,
        dtype="int32",
        quant_min=INT32_MIN,
        quant_max=INT32_MAX,
        qscheme="per_channel_symmetric" if per_channel else "per_tensor_symmetric",
        ch_axis=0 if per_channel else None,
    )
