"""Every finding case a worker builds decodes on the driver: whatever the report (signatures, summaries, known-bug
titles, error names thousands of characters long), the case the worker sends is within the decoder's limits.

A real run lost a finding to a 215-character tag (the finding's signature) that the worker's encoder let through
and the driver's decoder refused."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import strategies
from harness.case.decode import case_from_json
from harness.case.files import dumps
from harness.case.limits import MAX_TAG_LENGTH, MAX_TITLE_LENGTH
from harness.check.canonical import Canonical, canonical_error
from harness.check.compare import KINDS, Divergence
from harness.check.invariants import Violation
from harness.check.known_bugs import KnownBug
from harness.check.run import TRIAGE_KNOWN, TRIAGE_NEW, TRIAGE_REFERENCE, Outcome, Report
from harness.fuzz.config import CampaignConfig, WorkerSpec
from harness.fuzz.events import KIND_CRASH, STAGE_PENDING, STAGE_SHRUNK, FindingEvent
from harness.fuzz.target import CandidateEscaped, Target, finding_case
from harness.fuzz.session import Worker
from harness.suite.checks.quantizer_case import _failing
from harness.suite.results import Problem

_TEXT = st.text(max_size=40) | st.integers(0, 5_000).map(lambda n: "x" * n) | st.text(min_size=200, max_size=2_500)
_WORD = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True) | st.integers(200, 3_000).map(
    lambda n: "E" * n)
_CASES = strategies.cases(mode="valid", max_nodes=4) | strategies.cases(mode="adversarial", max_nodes=4)


def _error(name: str) -> Exception:
    return type(name, (Exception,), {})("a message " * 3)


@st.composite
def reports(draw) -> Report:
    """A failing report as check_case builds it, its texts drawn at any length (a real case; the reference's
    outcome an error or a canonical form)."""
    reference = draw(st.one_of(st.just(Outcome(Canonical())), _WORD.map(
        lambda name: Outcome(canonical_error(_error(name)), None, _error(name)))))
    candidate = Outcome(Canonical(), None, draw(st.none() | _WORD.map(_error)), draw(_TEXT))
    divergences = draw(st.lists(st.builds(Divergence, st.sampled_from(KINDS), _TEXT, _TEXT), max_size=6))
    violations = draw(st.lists(st.builds(Violation, _TEXT, _TEXT), min_size=0 if divergences else 1, max_size=6))
    triage = draw(st.sampled_from([TRIAGE_NEW, TRIAGE_KNOWN, TRIAGE_REFERENCE]))
    known = None
    if triage == TRIAGE_KNOWN:
        known = KnownBug(draw(_TEXT), draw(_TEXT), draw(_TEXT), lambda observed: True)
    resembles = draw(st.none() | st.builds(KnownBug, _TEXT, _TEXT, _TEXT, st.just(lambda observed: True)))
    return Report(draw(_CASES), reference, candidate, None, divergences, violations, known, triage, resembles)


def _worker(events: list, target: Target = Target("prepare", None, None, finding_case)) -> Worker:
    now = time.time()
    return Worker(WorkerSpec(CampaignConfig(), 0, 1, now, now + 60), target, events.append, None)


def _sent_case(event: FindingEvent):
    """The case the driver reads from ``event`` (and writes: within the file limits too)."""
    case = case_from_json(event.case)
    dumps(case)
    assert case.info.kind == "finding"
    assert all(len(tag) <= MAX_TAG_LENGTH for tag in case.info.tags) and len(case.info.title) <= MAX_TITLE_LENGTH
    return case


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(reports(), st.sampled_from([STAGE_PENDING, STAGE_SHRUNK]))
def test_the_finding_case_of_any_report_decodes(report, stage):
    assert report.failed
    event = _worker([]).finding(report, stage, 1.0)
    tags = _sent_case(event).info.tags
    if len(event.signature) <= MAX_TAG_LENGTH:
        assert event.signature in tags  # a short signature is written as it is
    else:
        assert any(t.endswith("...") and event.signature.startswith(t[:-3]) for t in tags)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_CASES, _WORD)
def test_a_crash_finding_decodes_whatever_the_exception_is_called(case, name):
    events: list = []
    _worker(events).crash(case, CandidateEscaped(type(name, (BaseException,), {})("bye")))
    (event,) = events
    assert event.kind == KIND_CRASH and event.signature == f"crash: {name}"
    title = _sent_case(event).info.title
    assert title == event.signature if len(event.signature) <= MAX_TITLE_LENGTH else event.signature.startswith(
        title[:-3])


_PROBLEM = st.builds(Problem, st.sampled_from(["annotate", "well_formed", "prepare"]),
                     _TEXT | st.lists(_TEXT, min_size=2, max_size=4).map("\n".join))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_CASES, st.lists(_PROBLEM, min_size=1, max_size=8), _TEXT)
def test_the_quantizer_targets_finding_case_decodes(case, problems, label):
    """Its signature joins one class a problem (each up to 120 characters of a message): many problems, a long
    signature, which is also the case's title and one of its tags."""
    verdict = _failing(case, problems, label, [n.name for n in case.graph.nodes])
    target = Target("quantizer", None, None, lambda v: v.case, reads_annotations=False)  # as quantizer_target's
    assert _sent_case(_worker([], target).finding(verdict, STAGE_SHRUNK, 1.0)).info.tags[:2] == ("finding", "quantizer")
