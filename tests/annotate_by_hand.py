"""Small exported graphs annotated by hand, for the tests of prepare_impl (torchao's own spec classes; the bias
derive functions are the harness's, :mod:`harness.fx.derive`)."""

from __future__ import annotations

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torchao.quantization.pt2e.observer import (
    HistogramObserver,
    MinMaxObserver,
    PerChannelMinMaxObserver,
)
from torchao.quantization.pt2e.fake_quantize import FakeQuantize
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationAnnotation,
    QuantizationSpec,
)

from harness.fx.derive import bias_qparams_per_channel, bias_qparams_per_tensor

KEY = "quantization_annotation"

INT8 = QuantizationSpec(torch.int8, MinMaxObserver, -128, 127, torch.per_tensor_affine)
INT8_HIST = QuantizationSpec(torch.int8, HistogramObserver, -128, 127, torch.per_tensor_affine)
UINT8 = QuantizationSpec(torch.uint8, MinMaxObserver, 0, 255, torch.per_tensor_affine)
INT8_FQ = QuantizationSpec(torch.int8, FakeQuantize, -128, 127, torch.per_tensor_affine)
WEIGHT_PC = QuantizationSpec(torch.int8, PerChannelMinMaxObserver, -127, 127, torch.per_channel_symmetric, ch_axis=0)
FIXED_SIGMOID = FixedQParamsQuantizationSpec(torch.uint8, 1.0 / 256.0, 0, 0, 255, torch.per_tensor_affine)


def derived_bias(act_edge, weight_edge, per_channel: bool = False) -> DerivedQuantizationSpec:
    """An int32 bias spec derived from the activation and weight observers (scale = act scale * weight scale)."""
    return DerivedQuantizationSpec(
        derived_from=[act_edge, weight_edge],
        derive_qparams_fn=bias_qparams_per_channel if per_channel else bias_qparams_per_tensor,
        dtype=torch.int32,
        quant_min=-(2**31),
        quant_max=2**31 - 1,
        qscheme=torch.per_channel_symmetric if per_channel else torch.per_tensor_symmetric,
        ch_axis=0 if per_channel else None,
    )


def export(fn_or_module, *example_inputs) -> torch.fx.GraphModule:
    if isinstance(fn_or_module, torch.nn.Module):
        module = fn_or_module
    else:  # placeholders are named a, b
        module = (_Wrap1, _Wrap2)[len(example_inputs) - 1](fn_or_module)
    # distinct tensors: export treats the same tensor passed twice as one input
    return torch.export.export(module, tuple(x.clone() for x in example_inputs)).module()


class _Wrap1(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, a):
        return self.fn(a)


class _Wrap2(_Wrap1):
    def forward(self, a, b):
        return self.fn(a, b)


def nodes(gm: torch.fx.GraphModule) -> dict[str, torch.fx.Node]:
    return {n.name: n for n in gm.graph.nodes}


def annotate(node, inputs=None, output=None, allow_implicit_sharing=True) -> None:
    node.meta[KEY] = QuantizationAnnotation(
        input_qspec_map=dict(inputs or {}),
        output_qspec=output,
        allow_implicit_sharing=allow_implicit_sharing,
        _annotated=True,
    )


def observers_by_key(prepared: torch.fx.GraphModule) -> dict:
    """For each observer node: (observed value name, reader names) -> module; a small view for assertions."""
    result = {}
    for n in prepared.graph.nodes:
        if n.op == "call_module" and "activation_post_process" in str(n.target):
            result[n.name] = (n.args[0].name, sorted(u.name for u in n.users), prepared.get_submodule(n.target))
    return result


def relu_chain(length: int, shape=(2, 3)) -> torch.fx.GraphModule:
    """``x -> relu -> relu -> ... -> output`` built directly (no export), with FakeTensor ``meta["val"]``."""
    with FakeTensorMode() as mode:
        val = torch.empty(shape)
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    x.meta["val"] = val
    prev = x
    for _ in range(length):
        prev = graph.call_function(torch.ops.aten.relu.default, (prev,))
        prev.meta["val"] = val
    graph.output((prev,))
    del mode
    return torch.fx.GraphModule(torch.nn.Module(), graph)
