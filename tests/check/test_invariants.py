"""Tests of harness.check.invariants: each checker is silent on torchao's prepare output and fires on a
deliberately broken prepared model (sharing, observed keys and observers' configuration here; derived sources, the
graph's form, float semantics and the state convert needs in test_invariants_later_steps.py)."""

from __future__ import annotations

import copy

import pytest
import torch

import prepare_impl
from harness.check.observer_map import locate_observers
from harness.check.invariants import (
    CHECKS,
    CheckContext,
    ExpectedGroup,
    Violation,
    check_all,
    check_annotated_edges_observed,
    check_no_cyclic_sharing,
    check_observer_matches_spec,
    check_one_observer_per_group,
    exempt_keys,
    expected_groups_from_analysis,
    expected_groups_from_upstream,
)
from invariant_contexts import ScalingObserver, ctx_for, messages, module_of, named, node_of, remove_observer
from prepared_models import (
    A,
    CASES,
    annotated,
    int8,
    obs_node,
    uint8,
)
from torchao.quantization.pt2e.fake_quantize import FakeQuantize
from torchao.quantization.pt2e.observer import MinMaxObserver, PerChannelMinMaxObserver
from torchao.quantization.pt2e.prepare import prepare
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, QuantizationSpec, SharedQuantizationSpec


# ---- torchao's output is clean ------------------------------------------------------------------


@pytest.mark.parametrize("is_qat", [False, True], ids=["ptq", "qat"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_torchao_output_violates_nothing(name, is_qat):
    ctx = ctx_for(name, is_qat)
    assert check_all(ctx) == []
    # the checkers that can run without expected groups agree
    assert check_all(ctx_for(name, is_qat, groups=False)) == []


def _share_instance_across_groups(ctx: CheckContext) -> None:
    node_of(ctx, "out:add").target = node_of(ctx, "out:relu").target


def _share_relu_with_itself(ctx: CheckContext) -> None:
    relu = next(n for n in ctx.original.graph.nodes if n.name == "relu")
    relu.meta[A] = QuantizationAnnotation(output_qspec=SharedQuantizationSpec(relu))


def _drop_edge_observer(ctx: CheckContext) -> None:
    remove_observer(ctx, node_of(ctx, "edge:x->relu"))


def _change_quant_min(ctx: CheckContext) -> None:
    module_of(ctx, "out:add").quant_min = -127


def _swap_derived_sources(ctx: CheckContext) -> None:
    derived = module_of(ctx, "edge:conv_bias->conv2d")
    derived.obs_or_fqs = list(reversed(derived.obs_or_fqs))


def _swap_add_arguments(ctx: CheckContext) -> None:
    add = named(ctx, "add")
    add.args = (add.args[1], add.args[0])


def _scale_in_an_observer(ctx: CheckContext) -> None:
    ctx.prepared.add_submodule(node_of(ctx, "out:add").target, ScalingObserver())


def _drop_convert_state(ctx: CheckContext) -> None:
    del ctx.prepared.meta["_observed_graph_module_attrs"]


# every registered check -> (a case, a way to break its prepared model for that check)
BROKEN_FOR = {
    "one_observer_per_group": ("relu_add", _share_instance_across_groups),
    "no_cyclic_sharing": ("cat", _share_relu_with_itself),
    "annotated_edges_observed": ("relu_add", _drop_edge_observer),
    "observer_matches_spec": ("relu_add", _change_quant_min),
    "derived_sources": ("conv_derived", _swap_derived_sources),
    "graph_well_formed": ("relu_add", _swap_add_arguments),
    "float_semantics": ("relu_add", _scale_in_an_observer),
    "convert_state": ("cat", _drop_convert_state),
}


def test_every_registered_check_has_a_case_broken_for_it():
    assert set(BROKEN_FOR) == set(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_check_all_runs_every_registered_check_and_each_fires(name):
    """A checker that never fires is not a checker: each registered one, run through check_all with all the
    others, is silent on torchao's output and reports the case broken for it (and does not crash on it)."""
    case, breaks = BROKEN_FOR[name]
    ctx = ctx_for(case)
    assert [v for v in check_all(ctx) if v.check == name] == []
    breaks(ctx)
    fired = [v for v in check_all(ctx) if v.check == name]
    assert fired, f"{name} did not fire on {case} broken by {breaks.__name__}"
    assert not any((v.details or {}).get("crashed") for v in fired), fired


def test_check_all_names_unknown_checks():
    with pytest.raises(KeyError, match="unknown check"):
        check_all(ctx_for("cat"), only=["nope"])


def test_check_all_turns_a_crashing_checker_into_a_violation(monkeypatch):
    def boom(ctx):
        raise RuntimeError("kaput")

    monkeypatch.setitem(CHECKS, "convert_state", boom)
    vs = check_all(ctx_for("cat"), only=["convert_state"])
    assert vs == [Violation("convert_state", "the checker itself failed: RuntimeError: kaput")]
    assert vs[0].details == {"crashed": True}


def test_expected_groups_from_analysis_reads_members_and_spec():
    ctx = ctx_for("relu_add")
    nodes = {n.name: n for n in ctx.original.graph.nodes}

    class G:
        def __init__(self, members, spec):
            self.members, self.spec = members, spec

    class Analysis:
        groups = [G((nodes["relu"], (nodes["relu"], nodes["add"])), "S")]

    assert expected_groups_from_analysis(Analysis()) == [
        ExpectedGroup(frozenset({"out:relu", "edge:relu->add"}), "S")
    ]


# ---- 1. one observer per group ------------------------------------------------------------------


def test_one_observer_per_group_fires_on_split_group():
    ctx = ctx_for("relu_add")
    assert check_one_observer_per_group(ctx) == []
    y_obs = obs_node(ctx.prepared, "y")  # y's edge shares relu's observer through its own node
    ctx.prepared.add_submodule("copied", copy.deepcopy(ctx.prepared.get_submodule(y_obs.target)))
    y_obs.target = "copied"
    vs = check_one_observer_per_group(ctx)
    assert len(vs) == 1
    assert vs[0].message.startswith(
        "the group {edge relu -> add, edge y -> add, output of relu} must share one observer but uses 2:"
    )
    assert "edge y -> add by copied" in vs[0].message


def test_one_observer_per_group_fires_on_groups_sharing_an_instance():
    ctx = ctx_for("relu_add")
    node_of(ctx, "out:add").target = node_of(ctx, "out:relu").target
    vs = check_one_observer_per_group(ctx)
    assert messages(vs) == [
        "the groups {edge relu -> add, edge y -> add, output of relu} and {output of add} must have "
        "distinct observers but share activation_post_process_2"  # first node running it: y's
    ]
    # without the expected partition the check cannot run
    ctx.expected_groups = None
    assert check_one_observer_per_group(ctx) == []


# ---- 2. no cyclic sharing -----------------------------------------------------------------------


def test_no_cyclic_sharing_reports_the_chain():
    ctx = ctx_for("cat")
    assert check_no_cyclic_sharing(ctx) == []
    nodes = {n.name: n for n in ctx.original.graph.nodes}
    relu, tanh, cat = nodes["relu"], nodes["tanh"], nodes["cat"]
    relu.meta[A] = QuantizationAnnotation(output_qspec=SharedQuantizationSpec((tanh, cat)))
    cat.meta[A] = QuantizationAnnotation(input_qspec_map={relu: int8(), tanh: SharedQuantizationSpec(relu)})
    vs = check_no_cyclic_sharing(ctx)
    assert messages(vs) == [
        "SharedQuantizationSpec references form a cycle: output of relu -> edge tanh -> cat -> output of relu"
    ]
    assert vs[0].details == {"cycle": ["out:relu", "edge:tanh->cat", "out:relu"]}


def test_no_cyclic_sharing_reports_self_reference_once():
    ctx = ctx_for("cat")
    relu = next(n for n in ctx.original.graph.nodes if n.name == "relu")
    relu.meta[A] = QuantizationAnnotation(output_qspec=SharedQuantizationSpec(relu))
    assert messages(check_no_cyclic_sharing(ctx)) == [
        "SharedQuantizationSpec references form a cycle: output of relu -> output of relu"
    ]


# ---- 3. annotated edges observed ---------------------------------------------------------------


@pytest.mark.parametrize("groups", [True, False])
def test_missing_edge_observer_fires(groups):
    ctx = ctx_for("relu_add", groups=groups)
    remove_observer(ctx, node_of(ctx, "edge:x->relu"))
    assert messages(check_annotated_edges_observed(ctx)) == [
        "relu reads x directly although the edge x -> relu is annotated"
    ]


def test_missing_output_observer_fires():
    ctx = ctx_for("relu_add")
    remove_observer(ctx, node_of(ctx, "out:relu"))
    assert messages(check_annotated_edges_observed(ctx)) == [
        "the output of relu is annotated but not observed",
        "add reads relu directly although the edge relu -> add is annotated",
    ]


def test_user_bypassing_output_observer_fires():
    ctx = ctx_for("relu_add")
    mul = named(ctx, "mul")
    mul.replace_input_with(node_of(ctx, "out:relu"), named(ctx, "relu"))
    assert "mul reads relu directly, bypassing the observer of its annotated output" in messages(
        check_annotated_edges_observed(ctx)
    )


def test_extra_observer_on_unannotated_edge_fires():
    ctx = ctx_for("relu_add")
    g = ctx.prepared.graph
    mul = named(ctx, "mul")
    ctx.prepared.add_submodule("extra_obs", MinMaxObserver())
    with g.inserting_after(mul):
        extra = g.call_module("extra_obs", (mul,))
    mul.replace_all_uses_with(extra, delete_user_cb=lambda u: u is not extra)
    assert messages(check_annotated_edges_observed(ctx)) == [
        "extra observer(s) extra_obs on the edge mul -> output, which is not annotated"
    ]


def test_observer_on_inplace_buffer_destination_fires():
    ctx = ctx_for("buffer")
    g = ctx.prepared.graph
    buf, copy_ = named(ctx, "buf"), named(ctx, "copy_")
    ctx.prepared.add_submodule("buf_obs", MinMaxObserver())
    with g.inserting_after(buf):
        o = g.call_module("buf_obs", (buf,))
    copy_.replace_input_with(buf, o)
    assert messages(check_annotated_edges_observed(ctx)) == [
        "extra observer(s) buf_obs on the edge buf -> copy_, which is not observed upstream: "
        "buf is the buffer copy_ writes in place"
    ]


def test_same_instance_twice_on_an_edge_fires():
    ctx = ctx_for("chain", groups=False)
    node_of(ctx, "edge:relu->add").target = node_of(ctx, "out:relu").target
    assert messages(check_annotated_edges_observed(ctx)) == [
        "the edge relu -> add is observed twice by the same instance "
        "(activation_post_process_0 then activation_post_process_1)"
    ]


def test_edge_needing_its_own_observer_fires_with_groups():
    ctx = ctx_for("chain")
    remove_observer(ctx, node_of(ctx, "edge:relu->add"))
    assert messages(check_annotated_edges_observed(ctx)) == [
        "the edge relu -> add is in a different group than the output of relu, so it needs exactly one "
        "observer after activation_post_process_0; found 0"
    ]


def test_exempt_keys_follow_upstream():
    assert exempt_keys(annotated("not_tensor")) == {
        "out:relu": "the output of relu is not a tensor (meta['val'] is not a FakeTensor)"
    }
    assert exempt_keys(annotated("buffer")) == {"edge:buf->copy_": "buf is the buffer copy_ writes in place"}
    assert exempt_keys(annotated("relu_add")) == {}


def test_inplace_destination_with_an_output_observer_is_observed_upstream():
    # torchao only skips the destination when the mutating op reads it directly; once the buffer has an
    # output observer the op reads that, and an edge observer of another group is inserted after it
    gm = annotated("buffer")
    nodes = {n.name: n for n in gm.graph.nodes}
    nodes["buf"].meta[A] = QuantizationAnnotation(output_qspec=uint8())
    assert "edge:buf->copy_" not in exempt_keys(gm)
    original = copy.copy(gm)
    prepared = prepare(gm, {}, False)
    om = locate_observers(original, prepared)
    assert om.key_node["edge:buf->copy_"] is not None
    assert [len(c) for c in om.edge_chains["edge:buf->copy_"]] == [2]
    assert check_annotated_edges_observed(CheckContext(original, prepared)) == []


# ---- 4. observer matches spec -------------------------------------------------------------------


def test_changed_quant_min_fires():
    ctx = ctx_for("relu_add")
    module_of(ctx, "out:add").quant_min = -127
    assert messages(check_observer_matches_spec(ctx)) == [
        "activation_post_process_3 observing {output of add} has quant_min=-127, the spec asks for -128"
    ]


def test_wrong_observer_class_fires():
    ctx = ctx_for("chain")
    node = node_of(ctx, "out:relu")
    ctx.prepared.add_submodule(node.target, type("OtherObserver", (MinMaxObserver,), {})(dtype=torch.int8))
    vs = check_observer_matches_spec(ctx)
    assert messages(vs) == [
        "activation_post_process_0 observing {output of relu} is a OtherObserver, the spec asks for MinMaxObserver"
    ]


def test_fixed_qparams_observer_in_qat_fires():
    ctx = ctx_for("fixed", is_qat=False)
    assert check_observer_matches_spec(ctx) == []
    ctx.is_qat = True  # a QAT prepare must build FixedQParamsFakeQuantize
    assert messages(check_observer_matches_spec(ctx)) == [
        "activation_post_process_1 observing {output of sigmoid} is a FixedQParamsObserver, the spec asks "
        "for FixedQParamsFakeQuantize"
    ]


def test_fixed_scale_and_inner_observer_fire_in_qat():
    ctx = ctx_for("fixed", is_qat=True)
    fq = module_of(ctx, "out:sigmoid")
    fq.scale.fill_(0.5)
    vs = messages(check_observer_matches_spec(ctx))
    assert vs == ["activation_post_process_1 observing {output of sigmoid} has scale=[0.5], the spec asks for 0.00390625"]
    edge_fq = module_of(ctx, "edge:mul->sigmoid")
    edge_fq.activation_post_process = MinMaxObserver.__new__(type("Inner", (MinMaxObserver,), {}))
    torch.nn.Module.__init__(edge_fq.activation_post_process)
    assert any("wraps a Inner, the spec asks for MinMaxObserver" in m for m in messages(check_observer_matches_spec(ctx)))


def test_qat_per_channel_fake_quant_drops_ch_axis_upstream():
    """Upstream finding: prepare passes ch_axis only to classes whose name contains "PerChannel", so a
    FakeQuantize(observer=PerChannelMinMaxObserver) spec with ch_axis=1 quantizes along axis 0."""
    spec = QuantizationSpec(
        dtype=torch.int8, observer_or_fake_quant_ctr=FakeQuantize.with_args(observer=PerChannelMinMaxObserver),
        quant_min=-127, quant_max=127, qscheme=torch.per_channel_symmetric, ch_axis=1,
    )

    def make():
        gm = copy.deepcopy(annotated("conv_derived"))
        nodes = {n.name: n for n in gm.graph.nodes}
        for n in gm.graph.nodes:
            n.meta.pop(A, None)
        nodes["conv2d"].meta[A] = QuantizationAnnotation(input_qspec_map={nodes["conv_weight"]: spec})
        return gm

    original = make()
    prepared = prepare(make(), {}, True)
    ctx = CheckContext(original, prepared, True, expected_groups_from_upstream(make()))
    assert messages(check_observer_matches_spec(ctx)) == [
        "activation_post_process_0 observing {edge conv_weight -> conv2d} has ch_axis=0, the spec asks for 1"
    ]


# ---- the reference implementation, checked with its own sharing analysis --------------------------


@pytest.mark.parametrize("is_qat", [False, True], ids=["ptq", "qat"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_prepare_violates_nothing(name, is_qat):
    original = annotated(name, is_qat)
    groups = expected_groups_from_analysis(prepare_impl.sharing_groups(annotated(name, is_qat)))
    prepared = prepare_impl.prepare(annotated(name, is_qat), {}, is_qat)
    ctx = CheckContext(original, prepared, is_qat, groups, CASES[name].inputs())
    assert check_all(ctx) == []
    # and its partition is torchao's on these cases
    upstream = expected_groups_from_upstream(annotated(name, is_qat))
    assert sorted(sorted(g.keys) for g in groups) == sorted(sorted(g.keys) for g in upstream)
