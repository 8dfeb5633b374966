"""harness.fx.extract on real models: XNNPACKQuantizer's annotations on an exported module round trip through a case
and prepare (and convert) identically, a derived bias converts, torch constants survive, and what extract refuses."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch
from torch.fx.node import map_arg

from harness import case as C
from harness.fx import fakeval
from harness.fx.build import UnsupportedGraph, build, example_inputs, extract_case
from torchao.quantization.pt2e.prepare import prepare
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e
from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, SharedQuantizationSpec

from build_samples import _graph_and_annotations, sample_case


# ---- real models: torch.export + XNNPACKQuantizer ----------------------------------------------


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.conv2 = torch.nn.Conv2d(3, 4, 3)
        self.lin = torch.nn.Linear(6, 5)

    def forward(self, x):
        a = torch.relu(self.conv(x))
        b = self.conv2(x)
        c = torch.cat([a, b], dim=1)
        first, second = torch.split(c, 4, dim=1)
        return self.lin(first + second) + 1.0


def _export(model, inputs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(model.eval(), inputs).module()


def _xnnpack_annotated(is_qat=False, per_channel=False):
    """``_Net`` exported and annotated by XNNPACKQuantizer.

    In QAT mode the quantizer first looks for conv-bn patterns, exporting each pattern (about 6 s); ``_Net``
    has no batch norm, so those annotators are skipped to keep the test fast (they would change nothing).
    """
    torch.manual_seed(0)
    model = _Net()
    inputs = (torch.randn(1, 3, 8, 8),)
    gm = _export(model, inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantizer = XNNPACKQuantizer().set_global(
            get_symmetric_quantization_config(is_qat=is_qat, is_per_channel=per_channel))
    quantizer.STATIC_QAT_ONLY_OPS = []  # instance attribute: the class keeps its list
    quantizer.annotate(gm)
    return gm, inputs


def _layout(gm: torch.fx.GraphModule):
    """Every node with its op, target (observer class for call_module) and args by name."""
    mods = dict(gm.named_modules())
    rows = []
    for n in gm.graph.nodes:
        if n.op == "call_module" and n.target == "_guards_fn":
            continue
        what = (n.target, type(mods[n.target]).__name__) if n.op == "call_module" else str(n.target)
        rows.append((n.name, n.op, what, repr(map_arg(n.args, lambda a: a.name))))
    return rows


@pytest.mark.parametrize("per_channel", [False, True])
def test_xnnpack_case_round_trips_and_prepares_identically(per_channel):
    original, inputs = _xnnpack_annotated(per_channel=per_channel)
    case = extract_case(original)
    assert not any(n.op == "call_module" for n in case.graph.nodes)  # the export guard call is dropped
    assert any(a.output is not None or a.inputs for a in case.annotations)
    rebuilt = build(case)
    assert _graph_and_annotations(extract_case(rebuilt)) == _graph_and_annotations(case)
    # same parameters, then prepare, calibrate and convert both: the same graph and the same numbers
    rebuilt.load_state_dict(original.state_dict())
    prepared_a = prepare(original, {}, False)
    prepared_b = prepare(rebuilt, {}, False)
    assert _layout(prepared_a) == _layout(prepared_b)
    for seed in range(3):
        x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
        prepared_a(x)
        prepared_b(x)
    converted_a = convert_pt2e(prepared_a)
    converted_b = convert_pt2e(prepared_b)
    assert _layout(converted_a) == _layout(converted_b)
    (result_b,) = converted_b(*inputs)
    assert torch.equal(converted_a(*inputs), result_b)


def test_xnnpack_qat_case_round_trips_and_prepares_identically():
    original, _ = _xnnpack_annotated(is_qat=True)
    case = dataclasses.replace(extract_case(original, is_qat=True))
    assert case.is_qat
    rebuilt = build(case)
    assert _graph_and_annotations(extract_case(rebuilt)) == _graph_and_annotations(case)
    prepared_a = prepare(original, {}, True)
    prepared_b = prepare(rebuilt, {}, True)
    assert _layout(prepared_a) == _layout(prepared_b)
    assert any("FakeQuantize" in str(row[2]) for row in _layout(prepared_b))


def test_derived_bias_spec_converts_with_product_scale():
    """A derived int32 bias on a real conv: the converted bias scale is act scale * weight scale."""
    case = sample_case(with_bn=False)
    prepared = prepare(build(case), {}, False)
    for seed in range(2):
        prepared(*example_inputs(case.graph, seed=seed))
    scales = {}
    mods = dict(prepared.named_modules())
    for n in prepared.graph.nodes:
        if n.op == "call_module" and n.args[0].name in ("x", "conv_weight", "conv_bias"):
            scales[n.args[0].name] = mods[n.target].calculate_qparams()[0]
    torch.testing.assert_close(scales["conv_bias"].reshape(()),
                               (scales["x"].reshape(()) * scales["conv_weight"].reshape(())))
    convert_pt2e(prepared)


# ---- extract: constants and unsupported graphs -------------------------------------------------


class _Consts(torch.nn.Module):
    def forward(self, x):
        y = x.to(torch.float32).contiguous(memory_format=torch.channels_last)
        return torch.clone(y, memory_format=torch.contiguous_format) * 2


def test_extract_handles_torch_constants():
    gm = _export(_Consts(), (torch.randn(1, 2, 3, 3),))
    case = extract_case(gm)
    consts = {v for n in case.graph.nodes for _, v in n.kwargs if isinstance(v, C.Const)}
    consts |= {a for n in case.graph.nodes for a in n.args if isinstance(a, C.Const)}
    assert C.Const("memory_format", "contiguous_format") in consts
    assert C.Const("dtype", "float32") in consts
    assert {C.Const("device", "cpu"), C.Const("layout", "strided"), C.Const("memory_format", "channels_last")} <= consts
    rebuilt = build(case)
    check = next(n for n in rebuilt.graph.nodes if n.target is torch.ops.aten._assert_tensor_metadata.default)
    assert check.kwargs["device"] == torch.device("cpu") and check.meta["val"] is None
    assert extract_case(rebuilt) == case
    x = torch.randn(1, 2, 3, 3)
    torch.testing.assert_close(rebuilt(x)[0], gm(x))


class _Sin(torch.nn.Module):
    def forward(self, x):
        return torch.sin(x) + 1


def test_extract_rejects_ops_outside_the_allow_list():
    gm = _export(_Sin(), (torch.randn(2),))
    with pytest.raises(UnsupportedGraph, match=r"node 'sin': op 'aten.sin.default' is not supported"):
        extract_case(gm)


def test_extract_rejects_call_module_nodes():
    class Outer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = torch.nn.ReLU()

        def forward(self, x):
            return self.inner(x)

    gm = torch.fx.symbolic_trace(Outer())
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            n.meta["val"] = fakeval.fake_tensor((2,), torch.float32)
    with pytest.raises(UnsupportedGraph, match=r"node 'inner': call_module 'inner'"):
        extract_case(gm)


def test_extract_rejects_foreign_spec_targets():
    gm = build(sample_case())
    stranger = build(sample_case())
    relu = next(n for n in gm.graph.nodes if n.name == "relu")
    other = next(n for n in stranger.graph.nodes if n.name == "x")
    relu.meta["quantization_annotation"] = QuantizationAnnotation(output_qspec=SharedQuantizationSpec(other))
    with pytest.raises(UnsupportedGraph, match=r"annotation of 'relu': output: refers to x"):
        extract_case(gm)


def test_extract_rejects_unnamed_derive_functions():
    gm = build(sample_case())
    conv = next(n for n in gm.graph.nodes if n.name == "conv2d")
    qa = conv.meta["quantization_annotation"]
    (x, weight, bias) = list(qa.input_qspec_map)
    qa.input_qspec_map[bias] = dataclasses.replace(qa.input_qspec_map[bias], derive_qparams_fn=lambda obs: obs)
    with pytest.raises(UnsupportedGraph, match=r"annotation of 'conv2d': input 'conv_bias': unknown derive function"):
        extract_case(gm)

