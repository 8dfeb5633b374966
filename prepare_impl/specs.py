"""The spec classes prepare understands, and the attributes that decide implicit sharing."""

from __future__ import annotations

from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationSpec,
    SharedQuantizationSpec,
)

SPEC_TYPES = (
    QuantizationSpec,
    SharedQuantizationSpec,
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
)
CONCRETE_SPEC_TYPES = (QuantizationSpec, DerivedQuantizationSpec, FixedQParamsQuantizationSpec)

# Two concrete specs may be implicitly shared exactly when they agree on each of these attributes, where an
# attribute that neither spec class has counts as agreeing and one that only one of them has as disagreeing.
IMPLICIT_SHARING_ATTRS = (
    "dtype",
    "is_dynamic",
    "quant_min",
    "quant_max",
    "qscheme",
    "ch_axis",
    "scale",
    "zero_point",
)

_ABSENT = object()


def compatibility_class(spec) -> tuple:
    """A hashable value equal for two concrete specs exactly when implicit sharing may join them."""
    return tuple(
        (attr, getattr(spec, attr, _ABSENT) is _ABSENT, getattr(spec, attr, None))
        for attr in IMPLICIT_SHARING_ATTRS
    )
