"""One observer per group, seen through a spec: a group observed by what another group's spec asks for, where that
group has no observer of its own, shares it (harness.check.invariants.sharing)."""

from __future__ import annotations

from dataclasses import replace

import torch
from torchao.quantization.pt2e.observer import HistogramObserver

import prepare_impl
from harness.case import Case, Ctor, Graph, Node, NodeAnnotation, QSpec, Ref, TensorMeta
from harness.check.invariants import (CheckContext, ExpectedGroup, expected_groups_from_analysis,
                                      expected_groups_from_upstream)
from harness.check.invariants.sharing import check_one_observer_per_group
from harness.check.invariants.spec_match import check_observer_matches_spec
from harness.check.run import UPSTREAM, load_function
from harness.fx.build import build
from invariant_contexts import messages, node_of, remove_observer
from masked_cases import HISTOGRAM, MERGES_WRONGLY, fixed_output_with_edge_from, relu

def _ctx(case: Case, prepare: str, groups=None) -> CheckContext:
    original = build(case)
    prepared = load_function(prepare)(build(case), {}, False)
    return CheckContext(original=original, prepared=prepared,
                        expected_groups=groups if groups is not None else expected_groups_from_upstream(original))


def test_an_observer_built_for_a_group_no_prepare_can_observe_is_that_groups():
    """The mutant merges the entry's spec into the output's group: the output gets a histogram observer."""
    ctx = _ctx(fixed_output_with_edge_from("sigmoid"), MERGES_WRONGLY)
    assert messages(check_one_observer_per_group(ctx)) == [
        "the groups {output of sigmoid} and {edge sigmoid -> sigmoid} must have distinct observers but share "
        "activation_post_process_0: it is what the spec of {edge sigmoid -> sigmoid} asks for, not its own "
        "group's, and {edge sigmoid -> sigmoid} has no observer of its own"]
    assert check_observer_matches_spec(ctx)  # the observer is wrong for its own group too
    # torchao keeps them apart
    assert not check_one_observer_per_group(_ctx(fixed_output_with_edge_from("sigmoid"), UPSTREAM))


def test_two_groups_that_would_fit_name_none():
    ctx = _ctx(fixed_output_with_edge_from("sigmoid"), MERGES_WRONGLY)
    twin = ExpectedGroup(frozenset({"edge:sigmoid->nowhere"}), next(g.spec for g in ctx.expected_groups
                                                                     if "edge:sigmoid->sigmoid" in g.keys))
    ctx.expected_groups = list(ctx.expected_groups) + [twin]
    assert not check_one_observer_per_group(ctx) and check_observer_matches_spec(ctx)


def test_a_group_with_its_own_observer_lends_none():
    """A valid case, prepared by torchao, its output's observer replaced by one built as the edge's spec asks: a
    wrong observer, not a shared one, while the edge keeps its own; once the edge's observer is gone, shared."""
    ctx = _ctx(fixed_output_with_edge_from("x"), UPSTREAM)
    out = node_of(ctx, "out:sigmoid")
    setattr(ctx.prepared, out.target, HistogramObserver(dtype=torch.uint8, quant_min=0, quant_max=255))
    assert check_observer_matches_spec(ctx) and not check_one_observer_per_group(ctx)
    remove_observer(ctx, node_of(ctx, "edge:x->sigmoid"))
    ctx.prepared.recompile()
    assert [v.details["groups"] for v in check_one_observer_per_group(ctx)] == [[["out:sigmoid"], ["edge:x->sigmoid"]]]


def test_an_observer_built_from_another_spec_of_its_own_group_borrows_nothing():
    """The reference's mutant builds a group's observer from its last concrete spec (the edge's, a min-max one),
    not its first (the output's, a histogram one). Another group, the output of ``split`` (a list, never observed),
    asks for a min-max observer too: a wrong spec, not a share."""
    minmax = QSpec("uint8", Ctor("torchao.quantization.pt2e.observer.MinMaxObserver"), qscheme="per_tensor_affine")
    case = Case(graph=Graph((Node("y", "placeholder", tensor=TensorMeta((2, 3, 8))), relu("clone", "y"),
                             Node("split", "call_function", "aten.split.Tensor", (Ref("clone"), 2)),
                             Node("output", "output", args=((Ref("clone"),),)))),
                annotations=(NodeAnnotation("y", output=replace(HISTOGRAM, quant_min=None, quant_max=None)),
                             NodeAnnotation("clone", (("y", minmax),)), NodeAnnotation("split", output=minmax)))
    original = build(case)
    ctx = _ctx(case, "harness.mutants:last_concrete_spec",
               groups=expected_groups_from_analysis(prepare_impl.sharing_groups(original)))
    assert len(ctx.expected_groups) == 2 and check_observer_matches_spec(ctx)
    assert not check_one_observer_per_group(ctx)
