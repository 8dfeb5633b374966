"""harness.check.lenient, through check_case: on a case the reference rejects and torchao prepares anyway (its known
bug ao-lenient-not-an-input), or raises on after its grouping (ao-derived-cycle), a candidate that prepares it with
another result than torchao's is NEW, and its signature names the invariants it breaks by torchao's own sharing
groups, so that the campaign groups it with the same failure on a case torchao gets right."""

from __future__ import annotations

import os

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

from pathlib import Path

import pytest
from hypothesis import find
from torchao.quantization.pt2e.prepare import prepare as upstream_prepare

from case_predicates import REACH
from harness import strategies
from harness.case.files import load_case
from harness.check import lenient
from harness.check.groups import UPSTREAM_FAILS_TOO, failure_of, group_key, group_keys
from harness.check.run import TRIAGE_KNOWN, TRIAGE_NEW, check_case
from harness.fx.build import build

# relu(x) annotates the edges from x and from y, which is not one of relu's inputs: the reference raises
# NotAnInputError; torchao ignores the edge from y and prepares
CASE = load_case(Path(__file__).resolve().parents[2] / "corpus" / "conformance"
                 / "annotating-a-node-that-is-not-an-input-is-an-err-1d3854d4561b.json")


def _torchao_then(edit):
    def prepare(model, scope, is_qat, cb=None):
        return edit(upstream_prepare(model, scope, is_qat, cb))

    return prepare


def _output_read_raw(prepared):
    """The observer of relu's output bypassed: add reads relu itself."""
    graph = prepared.graph
    observer = next(n for n in graph.nodes if n.op == "call_module" and n.args and getattr(n.args[0], "name", "") ==
                    "relu")
    observer.replace_all_uses_with(observer.args[0])
    graph.erase_node(observer)
    prepared.recompile()
    return prepared


def _narrower(prepared):
    """One observer's quant_max lowered: the same graph, another configuration than the spec's."""
    module = next(m for m in prepared.modules() if isinstance(getattr(m, "quant_max", None), int))
    module.quant_max -= 1
    return prepared


def test_torchao_on_the_case_is_lenient_and_known():
    report = check_case(CASE, _torchao_then(lambda p: p))
    assert report.triage == TRIAGE_KNOWN and report.signature == "known:ao-lenient-not-an-input", report.summary()
    assert report.beyond_upstream == []


@pytest.mark.parametrize("edit, invariant", [(_output_read_raw, "annotated_edges_observed"),
                                             (_narrower, "observer_matches_spec")])
def test_a_lenient_candidate_with_another_result_is_signed_by_what_it_breaks(edit, invariant):
    report = check_case(CASE, _torchao_then(edit))
    assert report.triage == TRIAGE_NEW and report.upstream_fails_too, report.summary()
    assert report.signature == f"{UPSTREAM_FAILS_TOO} crash_only_expected[NotAnInputError] invariant:{invariant}"
    assert [v.check for v in report.beyond_upstream] == [invariant]
    assert f"invariant {invariant}, by torchao's own sharing groups of this case" in report.summary()
    # its own group alone; the same failure's group when the run has it on a case torchao gets right
    assert group_key(report.signature) == UPSTREAM_FAILS_TOO
    assert group_key(failure_of(report.signature)) == f"invariant:{invariant}"
    elsewhere = f"structure[chains] invariant:{invariant}"
    assert group_keys([report.signature, elsewhere])[report.signature] == f"invariant:{invariant}"


def test_only_what_torchao_itself_does_not_break_is_kept():
    original = build(CASE)
    torchao = upstream_prepare(build(CASE), {}, False)
    assert lenient.beyond_upstream(original, torchao, upstream_prepare(build(CASE), {}, False), is_qat=False,
                                   checks=["annotated_edges_observed", "observer_matches_spec"]) == []
    broken = _output_read_raw(upstream_prepare(build(CASE), {}, False))
    found = lenient.beyond_upstream(original, broken, torchao, is_qat=False, checks=["annotated_edges_observed"])
    assert [v.check for v in found] == ["annotated_edges_observed"]
    # torchao's result broken the same way: nothing is beyond it
    assert lenient.beyond_upstream(original, broken, _output_read_raw(upstream_prepare(build(CASE), {}, False)),
                                   is_qat=False, checks=["annotated_edges_observed"]) == []


def test_without_torchao_s_own_groups_nothing_is_claimed(monkeypatch):
    def fails(original):
        raise KeyError("no grouping")

    monkeypatch.setattr(lenient, "expected_groups_from_upstream", fails)
    report = check_case(CASE, _torchao_then(_narrower))
    assert report.triage == TRIAGE_NEW and report.beyond_upstream == []
    assert report.signature == f"{UPSTREAM_FAILS_TOO} crash_only_expected[NotAnInputError]"


def test_a_candidate_accepting_a_derived_cycle_torchao_raises_on_late_is_signed_by_torchao_s_groups():
    def torchao_raises_after_grouping(case_and_kind):
        report = check_case(case_and_kind[0], upstream_prepare)
        return report.known is not None and report.known.id == "ao-derived-cycle"

    case = find(strategies.adversarial_cases(kinds=["derived_cycle"], max_nodes=5), torchao_raises_after_grouping,
                settings=REACH)[0]

    def inserts_nothing(model, scope, is_qat, cb=None):
        return model

    report = check_case(case, inserts_nothing)
    assert report.triage == TRIAGE_NEW and report.upstream_fails_too and report.upstream.error is not None
    assert "annotated_edges_observed" in {v.check for v in report.beyond_upstream}, report.summary()
    assert report.signature.startswith(f"{UPSTREAM_FAILS_TOO} crash_only_expected[DerivedCycleError] invariant:")
    assert "by torchao's own sharing groups of this case (torchao raised after its grouping)" in report.summary()
