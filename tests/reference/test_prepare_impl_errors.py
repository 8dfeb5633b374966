"""The reference prepare on hand-annotated graphs: its typed errors (the graph left as it was), and where upstream
fails on valid input (strict xfails) while the reference prepares it."""

from __future__ import annotations

import sys

import pytest
import torch
from torchao.quantization.pt2e.prepare import prepare as upstream_prepare
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e
from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

import prepare_impl
from annotate_by_hand import INT8, annotate, derived_bias, export, nodes, observers_by_key, relu_chain
from prepared_by_hand import ConvBias, X, _module_read_by, _prepare, cat_graph


# ---- typed errors ----------------------------------------------------------------------------------------


def _unchanged_after_error(gm, error):
    before = str(gm.graph)
    with pytest.raises(error) as info:
        _prepare(gm)
    assert str(gm.graph) == before
    return str(info.value)


def test_cycle_of_shared_specs_is_an_error_that_shows_the_chain():
    gm = cat_graph()
    n = nodes(gm)
    e1, e2 = (n["relu"], n["cat"]), (n["sigmoid"], n["cat"])
    annotate(n["cat"], {n["relu"]: SharedQuantizationSpec(e2), n["sigmoid"]: SharedQuantizationSpec(n["cat"])},
             SharedQuantizationSpec(e1))
    message = _unchanged_after_error(gm, prepare_impl.CyclicSharingError)
    assert "'relu' -> 'cat'" in message and "'sigmoid' -> 'cat'" in message and "output of 'cat'" in message


def test_shared_spec_referring_to_an_unannotated_node_is_dangling():
    gm = cat_graph()
    n = nodes(gm)
    annotate(n["cat"], {n["relu"]: SharedQuantizationSpec(n["sigmoid"])})
    message = _unchanged_after_error(gm, prepare_impl.DanglingReferenceError)
    assert "output of 'sigmoid'" in message and "edge ('relu' -> 'cat')" in message


def test_derived_spec_referring_to_an_unannotated_edge_is_dangling():
    gm = cat_graph()
    n = nodes(gm)
    annotate(n["cat"], {n["relu"]: derived_bias((n["sigmoid"], n["cat"]), n["relu"])})
    message = _unchanged_after_error(gm, prepare_impl.DanglingReferenceError)
    assert "DerivedQuantizationSpec" in message


def test_annotating_something_that_is_not_an_input_is_an_error():
    gm = cat_graph()
    n = nodes(gm)
    annotate(n["relu"], {n["b"]: INT8})
    message = _unchanged_after_error(gm, prepare_impl.NotAnInputError)
    assert "'relu'" in message and "'b'" in message


def test_tensor_kwarg_on_an_annotated_node_is_an_error():
    gm = export(lambda a: torch.relu(a), X)
    n = nodes(gm)
    n["relu"].kwargs = {"other": n["a"]}
    annotate(n["relu"], {}, INT8)
    message = _unchanged_after_error(gm, prepare_impl.TensorKwargError)
    assert "'relu'" in message and "'other'" in message


def test_derived_specs_depending_on_each_other_is_an_error():
    gm = export(lambda a: torch.relu(a) + torch.sigmoid(a), X)
    n = nodes(gm)
    annotate(n["relu"], {}, derived_bias(n["sigmoid"], n["sigmoid"]))
    annotate(n["sigmoid"], {}, derived_bias(n["relu"], n["relu"]))
    _unchanged_after_error(gm, prepare_impl.DerivedCycleError)


def test_every_error_is_an_annotation_error_and_a_value_error():
    for error in (prepare_impl.CyclicSharingError, prepare_impl.DanglingReferenceError, prepare_impl.NotAnInputError,
                  prepare_impl.TensorKwargError, prepare_impl.DerivedCycleError, prepare_impl.UnknownSpecError):
        assert issubclass(error, prepare_impl.AnnotationError) and issubclass(error, ValueError)


# ---- where upstream fails on valid input ----------------------------------------------------------------


def later_anchor_graph():
    """cat's first input edge shares with its output, whose concrete spec comes later (pytorch/ao#4421)."""
    gm = cat_graph()
    n = nodes(gm)
    annotate(n["cat"], {n["relu"]: SharedQuantizationSpec(n["cat"]), n["sigmoid"]: SharedQuantizationSpec(n["cat"])},
             INT8)
    return gm


def test_reference_prepares_a_shared_spec_anchored_later_in_graph_order():
    gm = later_anchor_graph()
    prepared = _prepare(gm)
    modules = {id(m) for _, _, m in observers_by_key(prepared).values()}
    assert len(modules) == 1
    prepared(X, X)
    convert_pt2e(prepared)(X, X)


@pytest.mark.xfail(raises=AssertionError, strict=True,
                   reason="torchao asserts on a shared spec anchored later in graph order: "
                          "https://github.com/pytorch/ao/issues/4421")
def test_upstream_prepares_a_shared_spec_anchored_later_in_graph_order():
    _prepare(later_anchor_graph(), impl=upstream_prepare)


def deep_chain(length: int, anchor_last: bool):
    gm = relu_chain(length)
    relus = [n for n in gm.graph.nodes if n.op == "call_function"]
    for i, node in enumerate(relus):
        j = i + 1 if anchor_last else i - 1
        concrete = (i == len(relus) - 1) if anchor_last else (i == 0)
        annotate(node, {}, INT8 if concrete else SharedQuantizationSpec(relus[j]))
    return gm, relus


@pytest.mark.slow
@pytest.mark.parametrize("anchor_last", [False, True])
def test_reference_handles_sharing_chains_tens_of_thousands_deep(anchor_last):
    length = 20_000
    gm, relus = deep_chain(length, anchor_last)
    limit = sys.getrecursionlimit()
    analysis = prepare_impl.sharing_groups(gm)
    assert len(analysis.groups) == 1 and len(analysis.groups[0].members) == length
    prepared = _prepare(gm)
    instances = {id(m) for _, _, m in observers_by_key(prepared).values()}
    assert len(instances) == 1 and sys.getrecursionlimit() == limit


@pytest.mark.xfail(raises=RecursionError, strict=True,
                   reason="torchao's _find_root_edge_or_node recurses once per link of a sharing chain anchored at its "
                          "end, past Python's recursion limit (the ordering family of "
                          "https://github.com/pytorch/ao/issues/4421)")
def test_upstream_handles_a_deep_sharing_chain():
    gm, _ = deep_chain(5_000, anchor_last=True)
    _prepare(gm, impl=upstream_prepare)


def per_channel_fake_quant_graph():
    """QAT weight spec: a fake quant around a per-channel observer, quantizing along axis 1."""
    from torchao.quantization.pt2e.fake_quantize import FakeQuantize
    from torchao.quantization.pt2e.observer import PerChannelMinMaxObserver
    from torchao.quantization.pt2e.quantizer import QuantizationSpec

    spec = QuantizationSpec(torch.int8, FakeQuantize.with_args(observer=PerChannelMinMaxObserver), -127, 127,
                            torch.per_channel_symmetric, ch_axis=1)
    gm = export(ConvBias(), X)
    conv = nodes(gm)["conv2d"]
    annotate(conv, {conv.args[1]: spec})
    return gm


def _weight_fake_quant_axis(impl):
    prepared = impl(per_channel_fake_quant_graph(), {}, True)
    return _module_read_by(prepared, "conv2d", 1).activation_post_process.ch_axis


def test_reference_keeps_ch_axis_of_a_fake_quant_around_a_per_channel_observer():
    assert _weight_fake_quant_axis(prepare_impl.prepare) == 1


@pytest.mark.xfail(raises=AssertionError, strict=True,
                   reason="torchao passes ch_axis only to classes named PerChannel*, so a FakeQuantize around a "
                          "per-channel observer silently falls back to axis 0 (no public report yet; "
                          "https://github.com/pytorch/ao/blob/v0.18.0/torchao/quantization/pt2e/prepare.py)")
def test_upstream_keeps_ch_axis_of_a_fake_quant_around_a_per_channel_observer():
    assert _weight_fake_quant_axis(upstream_prepare) == 1
