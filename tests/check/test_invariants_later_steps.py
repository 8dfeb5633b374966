"""Tests of harness.check.invariants, continued (test_invariants.py has the first steps): the checks of prepare's
later steps (derived observers' sources, the prepared graph's form, the float model's semantics, the state convert
needs), each silent on a sound prepared model and firing on a deliberately broken one."""

from __future__ import annotations

import copy

import pytest
import torch

import prepare_impl
from harness.check.invariants import (
    CheckContext,
    check_convert_state,
    check_derived_sources,
    check_float_semantics,
    check_graph_well_formed,
)
from invariant_contexts import ScalingObserver, ctx_for, messages, module_of, named, node_of
from torchao.quantization.pt2e.fake_quantize import FusedMovingAvgObsFakeQuantize
from torchao.quantization.pt2e.observer import MinMaxObserver
from torchao.quantization.pt2e.prepare import prepare
from torchao.quantization.pt2e.quantizer import QuantizationSpec


# ---- 5. derived sources ------------------------------------------------------------------------


@pytest.mark.parametrize("groups", [True, False])
def test_swapped_derived_sources_fire(groups):
    ctx = ctx_for("conv_derived", groups=groups)
    assert check_derived_sources(ctx) == []
    derived = module_of(ctx, "edge:conv_bias->conv2d")
    derived.obs_or_fqs = list(reversed(derived.obs_or_fqs))
    assert messages(check_derived_sources(ctx)) == [
        "activation_post_process_2: source 1 should be activation_post_process_0 (observing the edge x -> "
        "conv2d), found activation_post_process_1",
        "activation_post_process_2: source 2 should be activation_post_process_1 (observing the edge "
        "conv_weight -> conv2d), found activation_post_process_0",
    ]


def test_derived_source_outside_the_graph_and_wrong_count_fire():
    ctx = ctx_for("conv_derived")
    derived = module_of(ctx, "edge:conv_bias->conv2d")
    derived.obs_or_fqs = [derived.obs_or_fqs[0], MinMaxObserver()]
    assert messages(check_derived_sources(ctx)) == [
        "activation_post_process_2: source 2 should be activation_post_process_1 (observing the edge "
        "conv_weight -> conv2d), found <MinMaxObserver not in the graph>"
    ]
    derived.obs_or_fqs = derived.obs_or_fqs[:1]
    assert messages(check_derived_sources(ctx)) == [
        "activation_post_process_2 derives from 1 observers but its spec names 2 sources "
        "(edge conv_weight -> conv2d, edge x -> conv2d)"
    ]


# ---- 6. graph well formed ----------------------------------------------------------------------


def test_reordered_nodes_fire():
    ctx = ctx_for("relu_add")
    assert check_graph_well_formed(ctx) == []
    named(ctx, "relu").prepend(named(ctx, "add"))
    vs = messages(check_graph_well_formed(ctx))
    assert "add uses activation_post_process_1 before it is defined (graph not topologically sorted)" in vs


def test_missing_call_module_target_fires():
    ctx = ctx_for("chain")
    target = node_of(ctx, "edge:relu->add").target
    delattr(ctx.prepared, target)
    vs = messages(check_graph_well_formed(ctx))
    assert f"call_module node {target} targets {target}, which does not exist" in vs


class Scale(torch.nn.Module):
    def forward(self, x):
        return x * 2


def test_non_observer_module_inserted_fires():
    ctx = ctx_for("chain")
    node = node_of(ctx, "edge:relu->add")
    ctx.prepared.add_submodule(node.target, Scale())
    assert messages(check_graph_well_formed(ctx)) == [
        "the arguments of add differ from the original beyond inserted observers",  # Scale is not skipped
        f"node {node.name} (call_module of Scale) is new and not an observer: prepare may only insert observers",
    ]


def test_changed_arguments_fire():
    ctx = ctx_for("relu_add")
    add = named(ctx, "add")
    add.args = (add.args[1], add.args[0])
    assert messages(check_graph_well_formed(ctx)) == [
        "the arguments of add differ from the original beyond inserted observers"
    ]


# ---- 7. float semantics ------------------------------------------------------------------------


def test_observer_that_scales_its_input_fires():
    ctx = ctx_for("relu_add")
    node = node_of(ctx, "out:add")
    ctx.prepared.add_submodule(node.target, ScalingObserver())
    vs = messages(check_float_semantics(ctx))
    assert len(vs) == 1 and vs[0].startswith("output 0 differs from the original in float (max abs diff ")
    assert check_graph_well_formed(ctx) == []  # it still looks like an observer


def test_float_semantics_disables_fake_quant_on_a_copy_only():
    ctx = ctx_for("xnnpack", is_qat=True)
    assert check_float_semantics(ctx) == []
    fq = module_of(ctx, "out:relu")
    assert int(fq.fake_quant_enabled[0]) == 1  # the prepared model itself is untouched
    # with fake quant active the prepared model does not compute the float result
    with torch.no_grad():
        got = copy.deepcopy(ctx.prepared)(*ctx.example_inputs)[0]
        want = ctx.original(*ctx.example_inputs)[0]
    assert not torch.allclose(got, want)


def test_float_semantics_reports_a_crashing_prepared_model_and_skips_without_inputs():
    ctx = ctx_for("chain")
    ctx.prepared.add_submodule(node_of(ctx, "edge:relu->add").target, torch.nn.Linear(7, 7))
    vs = messages(check_float_semantics(ctx))
    assert len(vs) == 1 and vs[0].startswith("the prepared model raised on the example inputs: RuntimeError")
    ctx.example_inputs = None
    assert check_float_semantics(ctx) == []


def _write_through_a_view(a):
    y = torch.nn.functional.layer_norm(a.relu(), [8])
    y.view(16).relu_()  # after the observer of layer_norm -> sigmoid (torchao puts it right behind layer_norm)
    return torch.sigmoid(y)


def _write_to_the_observed_input(a):
    y = a.relu()
    v = y.view(16)
    y.mul_(y)  # mul_'s input is observed: mul_ writes the observer's output
    return v


FUSED = QuantizationSpec(torch.int8, FusedMovingAvgObsFakeQuantize, -128, 127, torch.per_tensor_affine)


@pytest.mark.parametrize("fn,consumer", [(_write_through_a_view, "sigmoid"), (_write_to_the_observed_input, "mul_")])
@pytest.mark.parametrize("prepare_fn", [prepare, prepare_impl.prepare], ids=["torchao", "reference"])
def test_float_semantics_sees_through_a_disabled_fused_fake_quant_before_an_in_place_write(fn, consumer, prepare_fn):
    """FusedMovingAvgObsFakeQuantize returns a copy even when disabled: an in-place write after it would miss the
    tensors the original writes, and the prepared model's float result would differ (issue 15). Disabled, it is
    the identity, and the check treats it so."""
    from annotate_by_hand import annotate, export, nodes

    x = torch.randn(2, 8)

    def annotated():
        gm = export(fn, x)
        n = nodes(gm)
        annotate(n[consumer], {n[consumer].args[0]: FUSED})
        return gm

    original, prepared = annotated(), prepare_fn(annotated(), {}, True)
    fq = copy.deepcopy(next(m for m in prepared.modules() if isinstance(m, FusedMovingAvgObsFakeQuantize)))
    fq.disable_fake_quant(), fq.disable_observer()
    assert fq(x) is not x  # the copy the rule is about
    ctx = CheckContext(original=original, prepared=prepared, is_qat=True, example_inputs=(x,))
    assert check_float_semantics(ctx) == []


# ---- 8. convert state --------------------------------------------------------------------------


def test_dropped_meta_state_fires():
    ctx = ctx_for("cat")
    assert check_convert_state(ctx) == []
    del ctx.prepared.meta["_observed_graph_module_attrs"]
    assert messages(check_convert_state(ctx)) == [
        "the prepared module has no meta['_observed_graph_module_attrs'] (convert needs it)"
    ]


def test_wrong_is_qat_fires():
    ctx = ctx_for("cat", is_qat=False)
    ctx.is_qat = True
    assert messages(check_convert_state(ctx)) == [
        "meta['_observed_graph_module_attrs'].is_qat is False, expected True"
    ]
