"""harness.check.run.upstream_state: what a finding's file records of torchao (``info.upstream``) is what torchao
does on the case, as the triage saw it, never the candidate's failure. Checked against the corpus, whose records of
torchao were judged by hand: with a candidate that always fails, and with torchao itself as the candidate."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import pytest

from harness.case.files import load_case
from harness.check.run import UPSTREAM, check_case, load_function, upstream_state
from harness.fuzz.target import finding_case

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
# what torchao does on each case, recorded in its file ("fixed": torchao no longer fails, the reference agrees)
_STATES = {p: load_case(p).info.upstream for folder in ("conformance", "upstream_bugs")
           for p in sorted((CORPUS / folder).glob("*.json"))}
RECORDED = [p for p, state in _STATES.items() if state != "fixed"]


def always_raises(model, node_name_to_scope=None, is_qat=False, obs_or_fq_callback=None):
    """A candidate prepare that fails every case, so each is triaged (torchao re-run)."""
    raise RuntimeError("this prepare always fails")


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: f"{p.parent.name}/{p.name[:40]}")
def test_a_failing_candidate_records_what_torchao_does(path):
    case = load_case(path)
    report = check_case(case, always_raises)
    assert report.failed and report.upstream is not None  # torchao was re-run to triage it
    assert upstream_state(report) == case.info.upstream
    assert finding_case(report).info.upstream == case.info.upstream


def test_a_mutant_on_a_case_torchao_gets_right_records_nothing_of_torchao():
    """The reference's mutant fails a conformance case torchao prepares right: its finding does not say torchao is
    wrong (the finding's file used to say ``upstream: wrong`` for any candidate's divergence)."""
    case = load_case(CORPUS / "conformance" / "cat-of-two-convs-shares-inputs-and-output-6f2658385101.json")
    assert case.info.upstream == ""
    report = check_case(case, load_function("harness.mutants:no_output_sharing"))
    assert report.failed and report.triage == "new" and report.candidate.error is None
    assert finding_case(report).info.upstream == ""


@pytest.mark.parametrize("path", [p for p in RECORDED if _STATES[p]],
                         ids=lambda p: p.name[:40])
def test_torchao_as_the_candidate_records_its_own_failure(path):
    """No re-run when the candidate is torchao: its own failure is torchao's."""
    case = load_case(path)
    report = check_case(case, load_function(UPSTREAM))
    assert report.failed and report.upstream is None
    assert upstream_state(report) == case.info.upstream
