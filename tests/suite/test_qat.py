"""The suite's QAT checks (``harness.suite`` with a QAT source): which factories take ``is_qat``, the QAT run of a
quantizer (train-mode export, conv-bn fused as ``prepare_qat_pt2e`` does, fake quants), the mode guard of
``run_check``, and the well-formedness rule for per-channel specs without ``ch_axis`` (issue 9 item 7)."""

from __future__ import annotations

import functools
import importlib.util

import pytest
import torch
from torchao.quantization.pt2e.fake_quantize import FakeQuantize, FakeQuantizeBase
from torchao.quantization.pt2e.observer import (
    MovingAveragePerChannelMinMaxObserver,
    PerChannelMinMaxObserver,
)
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, QuantizationSpec
from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

from harness import quantizers as q
from harness.fx.nodes import ANNOTATION_KEY as KEY
from harness.suite.checks.prepare_agreement import check_prepare
from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.checks.sqnr import check_numerics
from harness.suite.checks.well_formed_annotations import check_well_formed
from harness.suite.dispatch import SuiteCheck, run_check, suite_checks
from harness.suite.options import DEFAULT_QAT_SQNR_MIN, SuiteOptions
from harness.suite.source import (
    QuantizerLoadError,
    accepts_is_qat,
    load_quantizer_factory,
    qat_variant,
    quantizer_source,
)
from harness.suite.subjects import models
from harness.suite.subjects.subject import Subject
from prepare_impl.observers import constructed_class

# ---- which factories take is_qat -----------------------------------------------------------------


def _with_is_qat(is_qat=False):
    return is_qat


def _keyword_only(*, is_qat):
    return is_qat


def _kwargs(**kwargs):
    return kwargs


class _Takes:
    def __init__(self, is_qat: bool = False) -> None:
        self.is_qat = is_qat


def test_is_qat_is_detected_from_the_signature() -> None:
    assert accepts_is_qat(_with_is_qat) and accepts_is_qat(_keyword_only) and accepts_is_qat(_Takes)
    assert not accepts_is_qat(_kwargs)  # **kwargs says nothing about QAT
    assert not accepts_is_qat(lambda: None)
    assert not accepts_is_qat(q.embedding())  # an instance is configured as it is


def test_a_qat_source_calls_the_factory_with_is_qat_and_says_qat_in_its_label() -> None:
    ptq = quantizer_source(_Takes, "mine")
    assert ptq.qat_capable and not ptq.is_qat and ptq.label == "mine"
    assert ptq.factory().is_qat is False
    qat = qat_variant(ptq)
    assert qat.is_qat and qat.label == "mine [qat]" and qat.factory().is_qat is True
    assert qat.identity != ptq.identity and qat_variant(ptq).identity == qat.identity  # a stable cache key
    plain = quantizer_source(_kwargs, "plain", is_qat=True)  # taken as configured for QAT already
    assert plain.factory is _kwargs and plain.is_qat and not plain.qat_capable


def test_qat_factories_are_exactly_those_taking_is_qat() -> None:
    factories = {**q.TORCHAO_FACTORIES, **q.EXECUTORCH_FACTORIES}
    assert q.QAT_FACTORIES == {n for n, f in factories.items() if accepts_is_qat(f)}
    assert {"xnnpack", "xnnpack_per_tensor", "x86_inductor", "arm_inductor"} <= q.QAT_FACTORIES
    assert not {"embedding", "composable", "executorch_vulkan", "executorch_example"} & q.QAT_FACTORIES


def _available(name: str) -> bool:
    return not name.startswith("executorch_") or importlib.util.find_spec("executorch") is not None


def _ctors(gm: torch.fx.GraphModule) -> list[type]:
    out = []
    for n in gm.graph.nodes:
        qa = n.meta.get(KEY)
        if qa is None:
            continue
        for spec in [*qa.input_qspec_map.values(), qa.output_qspec]:
            if isinstance(spec, QuantizationSpec):
                out.append(constructed_class(spec.observer_or_fake_quant_ctr))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(q.QAT_FACTORIES - q.EXECUTORCH_SLOW))
def test_a_qat_factory_gives_fake_quants_and_its_ptq_form_observers(name: str) -> None:
    if not _available(name):
        pytest.skip("ExecuTorch is not installed")
    try:
        source = load_quantizer_factory(f"harness.quantizers:{name}", is_qat=True)
    except QuantizerLoadError as e:
        if e.unavailable:
            pytest.skip(str(e))
        raise
    model = "mlp" if name != "executorch_cadence" else "conv_bn_relu"
    qat = _ctors(run_quantizer(models.export_model(model, source.export_strict, True), source, 300.0).gm)
    ptq_source = load_quantizer_factory(f"harness.quantizers:{name}")
    ptq = _ctors(run_quantizer(models.export_model(model, source.export_strict), ptq_source, 300.0).gm)
    assert qat and all(issubclass(c, FakeQuantizeBase) for c in qat), qat
    assert ptq and not any(issubclass(c, FakeQuantizeBase) for c in ptq), ptq


# ---- the QAT run -------------------------------------------------------------------------------------


def test_run_check_refuses_a_source_of_the_other_mode() -> None:
    ptq = load_quantizer_factory("harness.quantizers:xnnpack_per_tensor")
    options = SuiteOptions(models=("mlp",), examples=0)
    (qat_annotate,) = [c for c in suite_checks(options, qat=True) if c.check == "annotate"]
    assert qat_annotate == SuiteCheck("annotate", Subject("model", "mlp"), True)
    assert qat_annotate.name == "annotate[mlp][qat]"
    with pytest.raises(ValueError, match=r"annotate\[mlp\]\[qat\] needs a QAT quantizer source"):
        run_check(qat_annotate, ptq, options)
    with pytest.raises(ValueError, match="needs a PTQ quantizer source"):
        run_check(SuiteCheck("annotate", Subject("model", "mlp")), qat_variant(ptq), options)


@pytest.mark.slow
def test_a_qat_run_fuses_conv_bn_like_prepare_qat_pt2e_and_both_prepares_agree_on_fake_quants() -> None:
    source = load_quantizer_factory("harness.quantizers:xnnpack", is_qat=True)
    ann = run_quantizer(models.export_model("conv_bn_relu", train=True), source, 300.0)
    assert not ann.failed, ann.problems
    # the graph prepare receives is prepare_qat_pt2e's: the same nodes after _fuse_conv_bn_qat
    upstream = prepare_qat_pt2e(models.export_model("conv_bn_relu", train=True), q.xnnpack(is_qat=True))
    ops = sorted(str(n.target) for n in ann.gm.graph.nodes if n.op == "call_function")
    assert ops == sorted(str(n.target) for n in upstream.graph.nodes if n.op == "call_function")
    assert "aten.sqrt.default" in ops  # the QAT conv-bn form (scaled weight) is there
    problems, case = check_prepare(ann.gm, "torchao.quantization.pt2e.prepare:prepare", 300.0, is_qat=True)
    assert problems == [] and case.is_qat
    assert any(isinstance(m, FakeQuantizeBase) for m in upstream.modules())


@pytest.mark.slow
def test_qat_numerics_on_a_model_without_batch_norm_meet_the_qat_floor() -> None:
    source = load_quantizer_factory("harness.quantizers:xnnpack", is_qat=True)
    result = check_numerics(Subject("model", "mlp"), source, SuiteOptions(models=("mlp",)))
    assert result.outcome == "passed", result.problems
    assert DEFAULT_QAT_SQNR_MIN <= result.sqnr < 60  # quantized: close, not equal


# ---- per-channel specs without ch_axis (issue 9 item 7) ------------------------------------------


def _weight_spec_gm(ctr) -> tuple[torch.fx.GraphModule, str]:
    gm = models.export_model("mlp")
    linear = next(n for n in gm.graph.nodes if n.target == torch.ops.aten.linear.default)
    w = linear.args[1]
    linear.meta[KEY] = QuantizationAnnotation(input_qspec_map={
        w: QuantizationSpec(torch.int8, ctr, -127, 127, torch.per_channel_symmetric)})  # ch_axis unset
    return gm, w.name


@pytest.mark.parametrize("ctr", [
    FakeQuantize.with_args(observer=PerChannelMinMaxObserver),
    FakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver.with_args(averaging_constant=0.1)),
], ids=["fake_quant(PerChannelMinMaxObserver)", "fake_quant(MovingAveragePerChannelMinMaxObserver)"])
def test_a_fake_quant_around_a_per_channel_observer_may_leave_the_axis_unset(ctr) -> None:
    gm, _ = _weight_spec_gm(ctr)
    assert check_well_formed(gm) == []
    problems, _ = check_prepare(gm, "torchao.quantization.pt2e.prepare:prepare", 60.0, is_qat=True)
    assert problems == []  # both prepares build it; the observer keeps its default axis 0


@pytest.mark.parametrize("ctr", [PerChannelMinMaxObserver,
                                 functools.partial(MovingAveragePerChannelMinMaxObserver.with_args)()],
                         ids=["PerChannelMinMaxObserver", "MovingAveragePerChannelMinMaxObserver.with_args()"])
def test_a_per_channel_class_with_the_axis_unset_is_not_well_formed(ctr) -> None:
    gm, w = _weight_spec_gm(ctr)
    (problem,) = check_well_formed(gm)
    name = constructed_class(ctr).__name__
    assert problem.message == (f"annotation of 'linear': input '{w}': per-channel qscheme "
                               f"torch.per_channel_symmetric without ch_axis: {name} is called with ch_axis=None")
