"""The small builders the scenarios are written with: specs, graph nodes and annotations, as case data.

Specs are the ones torchao's own tests use, with the observer classes of our allow-list
(``harness.case.names``); node builders name nodes as ``torch.export`` would.
"""

from __future__ import annotations

from typing import Optional, Sequence

from harness import case as C

OBS = "torchao.quantization.pt2e.observer."
DERIVED_CLS = "torchao.quantization.pt2e.DerivedObserverOrFakeQuantize"
FQ = "torchao.quantization.pt2e.fake_quantize."
AO = "https://github.com/pytorch/ao"
AO_TESTS = f"{AO}/blob/v0.18.0/test/quantization/pt2e/test_quantize_pt2e.py"
AO_QAT_TESTS = f"{AO}/blob/v0.18.0/test/quantization/pt2e/test_quantize_pt2e_qat.py"
AO_PREPARE = f"{AO}/blob/v0.18.0/torchao/quantization/pt2e/prepare.py"

# ---- specs (the ones torchao's tests use, with the observers of our allow-list) -------------------------------

ACT = C.QSpec("uint8", C.Ctor(OBS + "MinMaxObserver"), 0, 255, "per_tensor_affine")
WEIGHT = C.QSpec("int8", C.Ctor(OBS + "MinMaxObserver"), -128, 127, "per_tensor_symmetric")
WEIGHT_PC = C.QSpec("int8", C.Ctor(OBS + "PerChannelMinMaxObserver"), -127, 127, "per_channel_symmetric",
                    ch_axis=0)
BIAS_FLOAT = C.QSpec("float32", C.Ctor(OBS + "PlaceholderObserver"))
FIXED = C.FixedSpec("uint8", 1.0 / 256.0, 0, 0, 255, "per_tensor_affine")
ACT_QAT = C.QSpec("int8", C.Ctor(FQ + "FakeQuantize", (("observer", C.Ctor(OBS + "MovingAverageMinMaxObserver")),)),
                  -128, 127, "per_tensor_affine")
# A QAT weight spec whose fake quant wraps a per-channel observer, quantizing along axis 1.
WEIGHT_QAT_PC_AXIS1 = C.QSpec(
    "int8", C.Ctor(FQ + "FakeQuantize", (("observer", C.Ctor(OBS + "PerChannelMinMaxObserver")),)),
    -127, 127, "per_channel_symmetric", ch_axis=1,
)


def derived_bias(act: C.EdgeRef, weight: C.EdgeRef, per_channel: bool) -> C.DerivedSpec:
    """The bias spec derived from the activation and weight observers of a conv (scale = act * weight)."""
    fn = "bias_qparams_per_channel" if per_channel else "bias_qparams_per_tensor"
    return C.DerivedSpec((act, weight), f"harness.derive.{fn}", "int32", -(2**31), 2**31 - 1,
                         "per_channel_symmetric" if per_channel else "per_tensor_symmetric",
                         ch_axis=0 if per_channel else None)


def shared_edge(arg: str, node: str) -> C.SharedSpec:
    return C.SharedSpec(C.EdgeRef(arg, node))


def shared_out(node: str) -> C.SharedSpec:
    return C.SharedSpec(C.NodeRef(node))


# ---- graph data ----------------------------------------------------------------------------------------------

R = C.Ref


def ph(name: str, shape: tuple[int, ...], dtype: str = "float32") -> C.Node:
    return C.Node(name, "placeholder", tensor=C.TensorMeta(shape, dtype))


def attr(name: str, target: str, shape: tuple[int, ...], kind: str = "parameter") -> C.Node:
    return C.Node(name, "get_attr", target, tensor=C.TensorMeta(shape), attr_kind=kind)  # type: ignore[arg-type]


def call(name: str, op: str, *args, **kwargs) -> C.Node:
    return C.Node(name, "call_function", op, tuple(args), tuple(kwargs.items()))


def out(*names: str) -> C.Node:
    return C.Node("output", "output", args=(tuple(R(n) for n in names),))


def ann(node: str, inputs: Sequence[tuple[str, Optional[C.Spec]]] = (), output: Optional[C.Spec] = None,
        allow_implicit_sharing: bool = True) -> C.NodeAnnotation:
    return C.NodeAnnotation(node, tuple(inputs), output, allow_implicit_sharing)


def conv_nodes(prefix: str, x: str, name: str, channels: int = 3) -> tuple[C.Node, ...]:
    """Weight and bias parameters of ``<prefix>`` and ``name = conv2d(x, weight, bias)`` (3x3 kernel)."""
    return (
        attr(f"{prefix}_weight", f"{prefix}.weight", (channels, 3, 3, 3)),
        attr(f"{prefix}_bias", f"{prefix}.bias", (channels,)),
        call(name, "aten.conv2d.default", R(x), R(f"{prefix}_weight"), R(f"{prefix}_bias")),
    )


def conv_inputs_apart(prefix: str, x: str, name: str) -> tuple[list[str], ...]:
    """The conv's activation, weight and bias edges (:func:`conv_nodes`) as ``groups`` of a scenario: one observer
    each."""
    return [f"edge:{x}->{name}"], [f"edge:{prefix}_weight->{name}"], [f"edge:{prefix}_bias->{name}"]


def conv_annotation(prefix: str, x: str, name: str, output: Optional[C.Spec] = ACT,
                    bias: Optional[C.Spec] = BIAS_FLOAT, weight: C.Spec = WEIGHT,
                    act: C.Spec = ACT) -> C.NodeAnnotation:
    """The conv's activation, weight and bias edges (a ``None`` bias spec: the bias is not a key) and output."""
    return ann(name, ((x, act), (f"{prefix}_weight", weight), (f"{prefix}_bias", bias)), output)

