"""The plugin's random graphs name a judged bug of a real quantizer as known (harness.suite.checks.quantizer_case.
JudgedBugs), as the campaign does: only when the campaign's own check of the graph fails as that bug, the bug's
case still fails the same way, and the plugin's errors are that check's. Anything else stays a failure."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from harness.check.run import UPSTREAM, load_function
from harness.corpus.quantizer_bugs import PROJECT_CORPUS, entry_of
from harness.suite.checks import random_search
from harness.suite.checks.graph_checks import check_graph
from harness.suite.checks.quantizer_case import JudgedBugs
from harness.suite.options import SuiteOptions
from harness.suite.results import Problem
from harness.suite.source import load_quantizer_factory, quantizer_source
from harness.suite.subjects.subject import Subject

CI = SuiteOptions(profile="ci", examples=3)
GRU = "ao-xnnpack-gru-without-initial-state"  # torchao's test XNNPACKQuantizer: gru(x) without a state, IndexError


@pytest.fixture(scope="module")
def gru():
    entry = entry_of(PROJECT_CORPUS / "quantizer_bugs" / f"{GRU}.json")
    return entry, load_quantizer_factory(entry.quantizer)


def test_a_graph_failing_as_a_judged_bug_is_named_by_it(gru):
    entry, source = gru
    verdict = check_graph(entry.case.graph, source, CI)
    assert verdict.failed, verdict.problems
    errors = [p for p in verdict.problems if p.level == "error"]
    bug = JudgedBugs(source, load_function(UPSTREAM)).named(entry.case.graph, False, errors)
    assert bug is not None and bug.id == GRU


def test_an_error_the_campaigns_check_did_not_find_is_not_named(gru):
    entry, source = gru
    other = [Problem("annotate", "annotate() raised KeyError: 'x'")]
    assert JudgedBugs(source, load_function(UPSTREAM)).named(entry.case.graph, False, other) is None


def test_the_same_graph_under_a_quantizer_that_is_not_the_judged_one_is_not_named(gru):
    entry, source = gru
    copy = quantizer_source(source.factory, "my_company.quantizers:xnnpack_copy")  # the same code, another name
    verdict = check_graph(entry.case.graph, copy, CI)
    errors = [p for p in verdict.problems if p.level == "error"]
    assert errors and JudgedBugs(copy, load_function(UPSTREAM)).named(entry.case.graph, False, errors) is None


def test_the_plugins_random_graphs_count_a_judged_bug_as_known_and_fail_another_quantizer(gru, monkeypatch):
    entry, source = gru
    monkeypatch.setattr(random_search, "graph_strategy", lambda options: st.just(entry.case.graph))
    result = random_search.search_random_graphs(Subject("random", "0"), source, CI)
    assert result.outcome == "passed", result.problems
    assert [k for k in result.stats["known_bugs"] if GRU in k], result.stats
    copy = quantizer_source(source.factory, "my_company.quantizers:xnnpack_copy")
    result = random_search.search_random_graphs(Subject("random", "0"), copy, CI)
    assert result.outcome == "failed" and "IndexError" in result.errors[0].message, result.problems
