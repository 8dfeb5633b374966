"""The quantizer suite's prepare check turns the triage into levels: the candidate's own failure is an error, a
known upstream bug is known, an unjudged disagreement with torchao is a warning (it must not fail an author's CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.case.files import iter_cases
from harness.check import known_bugs
from harness.fx.build import build
from harness.suite.checks.prepare_agreement import UNJUDGED, check_prepare

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "upstream_bugs"
TORCHAO = "torchao.quantization.pt2e.prepare:prepare"


def _annotated(tag):
    case = next(c for _, c in iter_cases(CORPUS) if tag in c.info.tags)
    return build(case)


def test_a_known_upstream_bug_is_known():
    (problem,), _ = check_prepare(_annotated("ao-buffer-walk-skips-lists"), TORCHAO, timeout=60)
    assert problem.level == "known" and "ao-buffer-walk-skips-lists" in problem.message


def test_an_unjudged_disagreement_is_a_warning_asking_for_a_report(monkeypatch):
    monkeypatch.setattr(known_bugs, "KNOWN_BUGS", ())
    (problem,), case = check_prepare(_annotated("ao-buffer-walk-skips-lists"), TORCHAO, timeout=60)
    assert problem.level == "warning" and problem.message.startswith(UNJUDGED), problem.message
    assert case is not None


def test_a_failure_only_the_candidate_has_is_an_error():
    (problem,), _ = check_prepare(_annotated("ao-4421"), "harness.mutants:no_explicit_sharing", timeout=60)
    assert problem.level == "error", problem.message
