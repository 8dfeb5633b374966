"""The reference as a drop-in for torchao's prepare: torchao's deliberate error types, and per-channel QAT specs
whose ch_axis is unset (torchao's own QAT tests rely on the observer's default axis there)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from torchao.quantization.pt2e.fake_quantize import FusedMovingAvgObsFakeQuantize
from torchao.quantization.pt2e.observer import MovingAveragePerChannelMinMaxObserver
from torchao.quantization.pt2e.prepare import prepare as upstream_prepare
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e
from torchao.quantization.pt2e.quantizer import QuantizationSpec

import prepare_impl
from annotate_by_hand import INT8_FQ, annotate, export, nodes
from harness import strategies
from harness.fx.build import build


def _upstream_error(case):
    try:
        upstream_prepare(build(case), {}, case.is_qat)
    except BaseException as e:  # noqa: BLE001 (RecursionError etc. are torchao crashes, also recorded)
        return e
    return None


@pytest.mark.slow
@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(strategies.adversarial_cases())
def test_where_torchao_rejects_an_annotation_with_assertion_error_so_does_the_reference(drawn):
    """torchao's deliberate rejections are ``AssertionError``s (a shared spec whose anchor has no observer, a tensor
    kwarg on an annotated node); the reference's typed error for the same input is one too, and still typed."""
    case = drawn[0] if isinstance(drawn, tuple) else drawn
    theirs = _upstream_error(case)
    with pytest.raises(prepare_impl.AnnotationError) as ours:
        prepare_impl.prepare(build(case), {}, case.is_qat)
    if isinstance(theirs, AssertionError):
        assert isinstance(ours.value, AssertionError), (type(ours.value), theirs)
    assert isinstance(ours.value, ValueError)


@pytest.mark.slow
def test_every_annotation_error_class_is_caught_by_code_written_against_torchao():
    """Each typed error, raised for real on its own input, is caught by ``except AssertionError``."""
    seen: set[type] = set()

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategies.adversarial_cases())
    def collect(drawn):
        case = drawn[0] if isinstance(drawn, tuple) else drawn
        try:
            prepare_impl.prepare(build(case), {}, case.is_qat)
        except AssertionError as e:
            seen.add(type(e))

    collect()
    expected = {getattr(prepare_impl, name) for name in set(strategies.ERROR_FOR_KIND.values())}
    assert expected <= seen, f"never caught as AssertionError: {sorted(c.__name__ for c in expected - seen)}"


X = torch.randn(2, 3, 6, 6)


def _qat_conv_with_unset_weight_axis():
    """The QAT weight spec torchao's tests use: int8 per-channel, a fused fake quant around a per-channel moving
    average observer, and ``ch_axis`` left at ``None``."""
    weight = QuantizationSpec(torch.int8, FusedMovingAvgObsFakeQuantize.with_args(
        observer=MovingAveragePerChannelMinMaxObserver), -127, 127, torch.per_channel_symmetric, ch_axis=None)
    gm = export(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1)), X)
    conv = nodes(gm)["conv2d"]
    annotate(conv, {conv.args[0]: INT8_FQ, conv.args[1]: weight})
    return gm


@pytest.mark.parametrize("impl", [prepare_impl.prepare, upstream_prepare], ids=["reference", "torchao"])
def test_unset_ch_axis_leaves_the_observer_default_and_the_model_runs(impl):
    prepared = impl(_qat_conv_with_unset_weight_axis(), {}, True)
    fq = prepared.get_submodule(nodes(prepared)["conv2d"].args[1].target)
    assert fq.ch_axis == MovingAveragePerChannelMinMaxObserver().ch_axis  # the observer's default, as torchao
    out = prepared(X)  # the fused fake-quant op requires an int axis: None would raise TypeError here
    assert out.shape[0] == X.shape[0]
    convert_pt2e(prepared)(X)


def test_the_prepared_module_writes_its_code_when_first_used_and_it_is_torchaos():
    """The reference returns a module whose Python code is generated on first use (a check that reads only the
    graph never pays for it); its code, its run and its conversion are those of torchao's eager module."""
    torch.manual_seed(0)
    ours = prepare_impl.prepare(_qat_conv_with_unset_weight_axis(), {}, True)
    torch.manual_seed(0)  # the same conv weights
    theirs = upstream_prepare(_qat_conv_with_unset_weight_axis(), {}, True)
    assert isinstance(ours, torch.fx.GraphModule)
    assert ours.code == theirs.code
    assert torch.equal(ours(X), theirs(X))
    assert torch.equal(convert_pt2e(ours)(X), convert_pt2e(theirs)(X))


@pytest.mark.parametrize("held", ["submodule", "attribute", "buffer"])
def test_new_observers_are_numbered_after_the_names_the_model_holds(held):
    """A model that holds an ``activation_post_process_<n>`` already (a submodule, a plain attribute or a buffer)
    keeps it: the new observers take the numbers after the highest, and the old one is still what it was."""
    gm = _qat_conv_with_unset_weight_axis()
    old = {"submodule": torch.nn.Identity(), "attribute": "kept", "buffer": torch.zeros(1)}[held]
    if held == "buffer":
        gm.register_buffer("activation_post_process_7", old)
    else:
        setattr(gm, "activation_post_process_7", old)
    prepared = prepare_impl.prepare(gm, {}, True)
    observers = sorted(n.target for n in prepared.graph.nodes
                       if n.op == "call_module" and n.target.startswith("activation_post_process_"))
    assert observers == ["activation_post_process_8", "activation_post_process_9"]
    assert getattr(gm, "activation_post_process_7") is old  # not overwritten (the prepared module is built over
    # the graph, and holds only what the graph reads, as torchao's)
