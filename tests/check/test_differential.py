"""Property tests: on generated cases the reference satisfies every invariant, torchao agrees with it except
where a documented upstream bug explains the difference, and adversarial annotations get the typed errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from torchao.quantization.pt2e.prepare import prepare as upstream_prepare

import prepare_impl
from harness import strategies
from harness.check.run import check_case


@given(strategies.cases(mode="valid", max_nodes=10))
def test_reference_satisfies_every_invariant(case):
    report = check_case(case, prepare_impl.prepare, float_semantics=True)
    assert report.reference.error is None, report.reference.error
    assert not report.failed, report.summary()


@given(strategies.cases(mode="valid", max_nodes=10))
def test_torchao_agrees_with_the_reference_except_known_bugs(case):
    report = check_case(case, upstream_prepare, float_semantics=True)
    assert not report.is_new, report.summary()
    if report.failed:
        assert report.known.link.startswith("https://github.com/pytorch/")


@given(strategies.adversarial_cases())
def test_adversarial_annotations_get_the_typed_error(case_and_kind):
    case, kind = case_and_kind
    report = check_case(case, upstream_prepare)
    error = report.reference.error
    assert isinstance(error, prepare_impl.AnnotationError), (kind, error)
    assert type(error).__name__ == case.expected.error, (kind, error)
    assert not report.is_new, report.summary()  # torchao's bare errors are known


def test_a_known_bug_is_recognised_and_a_mutant_is_not():
    from harness.fuzz import mutants
    from harness.case.files import iter_cases
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "corpus" / "upstream_bugs"
    ((_, case),) = [(p, c) for p, c in iter_cases(root) if "ao-implicit-root-loop" in c.info.tags]
    report = check_case(case, upstream_prepare)
    assert report.failed and report.known is not None and report.known.id == "ao-implicit-root-loop"
    mutant_report = check_case(case, mutants.no_explicit_sharing)
    assert mutant_report.is_new, mutant_report.summary()
