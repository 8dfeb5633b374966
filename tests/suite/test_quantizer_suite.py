"""The pieces of the quantizer suite (the modules of ``harness.suite``), without pytest-in-pytest: check 2
(well-formed annotations), checks 3 and 4 (prepare and numerics), claims, the list of checks and rendering (running a
quantizer, its time limit, loading it and check 1 are tests/suite/test_quantizer_runs.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torchao.quantization.pt2e.observer import MinMaxObserver, PerChannelMinMaxObserver
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationAnnotation,
    QuantizationSpec,
    SharedQuantizationSpec,
)

from harness import quantizers
from harness.fx.nodes import ANNOTATION_KEY as KEY
from harness.suite.checks.claims import claimed_ops
from harness.suite.checks.graph_checks import check_graph
from harness.suite.checks.prepare_agreement import check_prepare
from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.checks.sqnr import check_numerics, sqnr_db
from harness.suite.checks.well_formed_annotations import check_well_formed, dtype_range
from harness.suite.dispatch import SuiteCheck, run_check, suite_checks
from harness.suite.options import DEFAULT_PREPARE, DEFAULT_SQNR_MIN, SuiteOptions
from harness.suite.reporting.render import render_graph, render_spec
from harness.suite.source import load_quantizer_factory, quantizer_source
from harness.suite.subjects import models
from harness.suite.subjects.case_graphs import graph_module_for_quantizer
from harness.suite.subjects.subject import QUANTIZER, Subject

from suite_mlp import ACT, _messages, _mlp


# ---- check 2: well-formed annotations ------------------------------------------------------------


def test_dtype_ranges() -> None:
    assert dtype_range(torch.int8) == (-128, 127)
    assert dtype_range(torch.uint8) == (0, 255)
    assert dtype_range(torch.int32) == (-(2**31), 2**31 - 1)
    assert dtype_range(torch.uint4) == (0, 15)
    assert dtype_range(torch.int4) == (-8, 7)
    assert dtype_range(torch.float32) is None
    assert dtype_range(torch.float8_e4m3fn) is None


REAL = [("xnnpack", "conv_bn_relu"), ("xnnpack_per_tensor", "mlp"), ("x86_inductor", "residual"),
        ("arm_inductor", "depthwise_separable"), ("embedding", "embedding_linear"), ("composable", "embedding_linear")]


@pytest.mark.parametrize("name, model", REAL, ids=[f"{q}-{m}" for q, m in REAL])
def test_torchaos_quantizers_pass_every_check_on_a_model(name: str, model: str) -> None:
    source = load_quantizer_factory(f"harness.quantizers:{name}")
    options = SuiteOptions(models=(model,))
    for check in ("annotate", "well_formed", "prepare", "numerics"):
        result = run_check(SuiteCheck(check, Subject("model", model)), source, options)
        assert result.outcome == "passed", (check, result.problems)
        assert result.annotated > 0
    assert result.sqnr > DEFAULT_SQNR_MIN + 5  # the lowest measured: 23.7 dB (composable, embedding_linear)
    assert run_check(SuiteCheck("coverage", QUANTIZER), source, options).outcome == "passed"


def test_x86_inductor_quantizer_crashes_on_an_unused_convolution() -> None:
    """An upstream bug the random graphs find (torchao 0.18): ``_annotate_conv2d`` reads ``output_nodes[0]`` of a
    conv partition that has no output because nothing uses the convolution."""
    from harness import case as C

    graph = C.Graph((
        C.Node("w", "get_attr", "w", tensor=C.TensorMeta((4, 4, 1, 1)), attr_kind="parameter"),
        C.Node("x", "placeholder", tensor=C.TensorMeta((1, 4, 8, 8))),
        C.Node("conv", "call_function", "aten.conv2d.default", (C.Ref("x"), C.Ref("w"))),
        C.Node("relu", "call_function", "aten.relu.default", (C.Ref("x"),)),
        C.Node("output", "output", args=((C.Ref("relu"),),)),
    ))
    verdict = check_graph(graph, load_quantizer_factory("harness.quantizers:x86_inductor"), SuiteOptions())
    assert verdict.failed
    assert verdict.problems[0].message.startswith("annotate() raised IndexError: list index out of range")
    assert "in _annotate_conv2d: conv_node = conv_partition.output_nodes[0]" in verdict.problems[0].message
    ok = check_graph(graph, load_quantizer_factory("harness.quantizers:xnnpack"), SuiteOptions())
    assert not ok.failed, ok.problems


@pytest.mark.parametrize("make, message", [
    (lambda x, w, n: {x: QuantizationSpec(torch.uint8, MinMaxObserver, 0, 256, torch.per_tensor_affine)},
     "input 'x': quant_max 256 is outside the range of torch.uint8 [0, 255]"),
    (lambda x, w, n: {w: QuantizationSpec(torch.int8, PerChannelMinMaxObserver, -127, 127,
                                          torch.per_channel_symmetric)},
     "input 'fc1_weight': per-channel qscheme torch.per_channel_symmetric without ch_axis"),
    (lambda x, w, n: {w: QuantizationSpec(torch.int8, PerChannelMinMaxObserver, -127, 127,
                                          torch.per_channel_symmetric, ch_axis=2)},
     "input 'fc1_weight': ch_axis 2 is out of range for 'fc1_weight', a tensor of rank 2"),
    (lambda x, w, n: {x: FixedQParamsQuantizationSpec(torch.int8, 0.0, 0, -128, 127)},
     "input 'x': scale 0.0 is not a positive finite number"),
    (lambda x, w, n: {x: FixedQParamsQuantizationSpec(torch.uint8, 0.1, 300, 0, 255)},
     "input 'x': zero_point 300 is outside [quant_min, quant_max] = [0, 255]"),
    (lambda x, w, n: {x: "int8"}, "input 'x': str is not a quantization spec"),
    (lambda x, w, n: {x: SharedQuantizationSpec("x")},
     "input 'x': SharedQuantizationSpec refers to 'x', which is not a node or an (arg, node) edge of this graph"),
    (lambda x, w, n: {x: ACT, w: DerivedQuantizationSpec([], lambda obs: (1.0, 0), torch.int32)},
     "input 'fc1_weight': derived_from is empty"),
])
def test_bad_fields_are_named(make, message: str) -> None:
    gm, linears = _mlp()
    n = linears[0]
    x, w = n.args[0], n.args[1]
    n.meta[KEY] = QuantizationAnnotation(input_qspec_map=make(x, w, n))
    problems = check_well_formed(gm)
    assert any(m.startswith(f"annotation of 'linear': {message}") for m in _messages(problems)), _messages(problems)
    assert all(p.nodes == ("linear",) for p in problems)


def test_quantizing_an_integer_tensor_is_reported() -> None:
    gm = models.export_model("embedding_linear")
    emb = next(n for n in gm.graph.nodes if n.target == torch.ops.aten.embedding.default)
    indices = emb.args[1]
    emb.meta[KEY] = QuantizationAnnotation(input_qspec_map={indices: ACT})
    assert _messages(check_well_formed(gm)) == [
        f"annotation of 'embedding': input '{indices.name}': quantizes '{indices.name}', a torch.int64 tensor: only "
        "floating-point tensors can be observed"]


def test_structural_errors_come_from_the_reference_analysis() -> None:
    gm, linears = _mlp()
    a, b = linears[:2]
    a.meta[KEY] = QuantizationAnnotation(output_qspec=SharedQuantizationSpec(b))
    b.meta[KEY] = QuantizationAnnotation(output_qspec=SharedQuantizationSpec(a))
    (problem,) = check_well_formed(gm)
    assert problem.message.startswith("CyclicSharingError: cyclic SharedQuantizationSpec: output of 'linear'")
    assert set(problem.nodes) == {"linear", "linear_1"}


# ---- checks 3 and 4 ------------------------------------------------------------------------------


def test_sqnr() -> None:
    ref = [torch.tensor([1.0, 1.0])]
    assert sqnr_db(ref, [torch.tensor([1.0, 1.0])]) == math.inf
    assert sqnr_db(ref, [torch.tensor([1.1, 0.9])]) == pytest.approx(20.0)  # signal 2, noise 0.02
    assert sqnr_db([torch.zeros(2)], [torch.ones(2)]) == -math.inf


def test_numerics_of_a_real_quantizer_are_above_the_default_minimum() -> None:
    residual = Subject("model", "residual")
    result = check_numerics(residual, load_quantizer_factory("harness.quantizers:xnnpack"), SuiteOptions())
    assert result.outcome == "passed", result.problems
    assert result.sqnr > DEFAULT_SQNR_MIN + 10  # measured 38.6 dB
    strict = check_numerics(residual, load_quantizer_factory("harness.quantizers:xnnpack"),
                            SuiteOptions(sqnr_min=200.0))
    assert strict.outcome == "failed"
    assert "is below the minimum 200 dB (--pt2e-sqnr-min)" in strict.problems[0].message


def test_check_prepare_on_real_annotations_agrees() -> None:
    ann = run_quantizer(models.export_model("attention"), quantizer_source(quantizers.xnnpack), timeout=60)
    problems, case = check_prepare(ann.gm, DEFAULT_PREPARE, timeout=60)
    assert problems == [] and case is not None and case.annotations


# ---- claims, checks, rendering -------------------------------------------------------------------


def test_claimed_ops() -> None:
    xnnpack = claimed_ops(quantizers.xnnpack())
    assert {"conv2d", "linear", "add", "adaptiveavgpool2d"} <= xnnpack
    assert "embedding" not in xnnpack
    assert claimed_ops(quantizers.embedding()) == {"embedding"}
    assert claimed_ops(quantizers.x86_inductor()) is None  # it does not say


def test_suite_checks_and_their_ids(tmp_path) -> None:
    (tmp_path / "a-case.json").write_text("{}")
    checks = suite_checks(SuiteOptions(models=("mlp",), examples=25, corpus=str(tmp_path)))
    assert [c.name for c in checks] == ["annotate[mlp]", "well_formed[mlp]", "prepare[mlp]", "numerics[mlp]",
                                        "random_graphs[0]", "random_graphs[1]", "random_graphs[2]", "corpus[a-case]",
                                        "coverage"]
    none = suite_checks(SuiteOptions(models=(), examples=0, corpus=str(tmp_path / "missing")))
    assert [c.name for c in none] == ["coverage"]


def test_profiles_set_the_budget_and_options_override_it() -> None:
    # the budgets --help documents: examples dev 10, ci 20, nightly 300; timeout 60 s, nightly 120 s
    assert [(SuiteOptions(profile=p).budget.examples, SuiteOptions(profile=p).budget.timeout)
            for p in ("dev", "ci", "nightly")] == [(10, 60.0), (20, 60.0), (300, 120.0)]
    assert len(suite_checks(SuiteOptions(profile="nightly", models=()))) == 30 + 1  # 30 chunks of 10, coverage
    overridden = SuiteOptions(profile="nightly", examples=3, timeout=5.0).budget
    assert (overridden.examples, overridden.timeout, overridden.max_nodes) == (3, 5.0, 16)


def test_render_spec_and_graph() -> None:
    q = quantizers.xnnpack()
    gm = models.export_model("mlp")
    q.annotate(gm)
    text = render_graph(gm, at_fault=["linear"])
    assert "  ! linear = linear(x, fc1_weight, fc1_bias)  float32[4, 32]" in text.splitlines()
    assert "        in  x: int8[-128,127] per_tensor_affine HistogramObserver" in text.splitlines()
    assert "        in  fc1_weight: int8[-127,127] per_channel_symmetric axis 0 PerChannelMinMaxObserver" \
        in text.splitlines()
    assert render_spec(SharedQuantizationSpec((gm.graph.find_nodes(op="placeholder")[0],
                                                  next(iter(gm.graph.nodes))))) .startswith("shared(x->")
    assert render_spec(FixedQParamsQuantizationSpec(torch.uint8, 0.5, 3, 0, 255)) == \
        "fixed(scale=0.5, zero_point=3) uint8[0,255] None"


def test_a_graph_checked_for_a_quantizer_spells_arguments_as_torch_export_does() -> None:
    """A list argument by keyword (``reshape(x, shape=[256])``) is positional in what the quantizer sees, as
    torch.export records ``torch.reshape(x, shape=(256,))``."""
    from harness import case as C  # as in the tests above

    graph = C.Graph((
        C.Node("x", "placeholder", tensor=C.TensorMeta((1, 4, 8, 8))),
        C.Node("reshape", "call_function", "aten.reshape.default", (C.Ref("x"),), (("shape", (256,)),)),
        C.Node("output", "output", args=((C.Ref("reshape"),),)),
    ))
    (node,) = [n for n in graph_module_for_quantizer(graph).graph.nodes if n.op == "call_function"]
    assert node.target == torch.ops.aten.reshape.default
    assert (node.args[1], node.kwargs) == ([256], {})
