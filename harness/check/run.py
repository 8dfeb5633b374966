"""Differential testing of one case: a candidate prepare against the reference and the invariants.

``check_case(case, candidate)`` builds the case three times (an untouched original, one copy for each prepare,
since prepare edits its input in place), runs the reference (``prepare_impl.prepare``) and the candidate (any
function with torchao's ``prepare`` signature), puts both results in canonical form, compares them
(:mod:`harness.check.compare`), checks the candidate's result against the invariants (:mod:`harness.check.invariants`, with
the reference's sharing groups as the expected partition), and asks :mod:`harness.check.known_bugs` whether a known
upstream bug explains what went wrong. The :class:`Report` says all of it in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from torch.fx import GraphModule

import prepare_impl
from harness.check import known_bugs
from harness.common.loading import resolve_object
from harness.fx.build import build, example_inputs
from harness.check.canonical import Canonical, canonical_error, canonical_form
from harness.case import Case
from harness.check.compare import Divergence, compare, divergence_signature
from harness.check.invariants import CHECKS, CheckContext, Violation, check_all, expected_groups_from_analysis

PrepareFn = Callable[..., GraphModule]

UPSTREAM = "torchao.quantization.pt2e.prepare:prepare"
REFERENCE = "prepare_impl:prepare"


def load_function(spec: str) -> PrepareFn:
    """``"package.module:function"`` -> the function (raises ``ValueError`` with the reason otherwise)."""
    obj = resolve_object(spec)
    if not callable(obj):
        raise ValueError(f"{spec!r}: {spec.partition(':')[2]!r} is not callable")
    return obj


@dataclass
class Outcome:
    """One prepare of one case."""

    canonical: Canonical
    prepared: Optional[GraphModule] = None
    error: Optional[BaseException] = None


@dataclass
class Report:
    case: Case
    reference: Outcome
    candidate: Outcome
    analysis: Optional[prepare_impl.SharingAnalysis]
    divergences: list[Divergence] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    known: Optional[known_bugs.KnownBug] = None

    @property
    def failed(self) -> bool:
        return bool(self.divergences or self.violations)

    @property
    def is_new(self) -> bool:
        return self.failed and self.known is None

    @property
    def signature(self) -> str:
        """Short and name-free: equal for two cases that fail the same way (used to deduplicate findings)."""
        if self.known is not None:
            return f"known:{self.known.id}"
        parts = []
        if self.divergences:
            parts.append(divergence_signature(self.divergences))
        parts.extend(sorted({f"invariant:{v.check}" for v in self.violations}))
        return " ".join(parts)

    def summary(self) -> str:
        """What went wrong, in plain words (several lines)."""
        lines = []
        if self.known is not None:
            lines.append(f"known upstream bug {self.known.id}: {self.known.title} ({self.known.link})")
        for d in self.divergences:
            lines.append(f"{d.kind}: {d.detail}")
        for v in self.violations:
            lines.append(f"invariant {v.check}: {v.message}")
        return "\n".join(lines) if lines else "no divergence"


def run_prepare(prepare_fn: PrepareFn, case: Case, original: GraphModule) -> Outcome:
    """Prepare a fresh build of ``case`` with ``prepare_fn``; any exception becomes the outcome."""
    work = build(case)
    try:
        prepared = prepare_fn(work, {}, case.is_qat)
    except Exception as e:  # noqa: BLE001 - a crash of the prepare under test is a result, not an error here
        return Outcome(canonical_error(e), None, e)
    try:
        return Outcome(canonical_form(original, prepared), prepared, None)
    except Exception as e:  # noqa: BLE001 - garbage output: report it as such
        return Outcome(canonical_error(e), prepared, e)


def check_case(
    case: Case,
    candidate: PrepareFn,
    *,
    invariants: bool = True,
    float_semantics: bool = False,
    numerics: bool = False,
) -> Report:
    """Run ``candidate`` and the reference on ``case`` and compare (see the module docstring)."""
    original = build(case)
    try:
        analysis = prepare_impl.sharing_groups(original)
    except prepare_impl.AnnotationError:
        analysis = None
    reference = run_prepare(prepare_impl.prepare, case, original)
    outcome = run_prepare(candidate, case, original)
    report = Report(case, reference, outcome, analysis, compare(reference.canonical, outcome.canonical))

    if invariants and outcome.prepared is not None and outcome.error is None and analysis is not None:
        inputs = example_inputs(case.graph) if float_semantics else None
        ctx = CheckContext(
            original=original,
            prepared=outcome.prepared,
            is_qat=case.is_qat,
            expected_groups=expected_groups_from_analysis(analysis),
            example_inputs=inputs,
        )
        checks = [name for name in CHECKS if float_semantics or name != "float_semantics"]
        report.violations = check_all(ctx, only=checks)
    if numerics and not report.divergences and reference.prepared is not None and outcome.prepared is not None:
        from harness.check.compare import compare_numerics

        report.divergences.extend(
            compare_numerics(reference.prepared, outcome.prepared, example_inputs(case.graph))
        )
    if report.failed:
        report.known = known_bugs.match(
            known_bugs.Observed(
                original=original,
                analysis=analysis,
                reference_error=reference.error,
                candidate_error=outcome.error,
                divergence_kinds=frozenset(d.kind for d in report.divergences),
            )
        )
    return report


def reference_expectation(report: Report):
    """The :class:`harness.case.Expected` a case's file records: the reference's canonical form or error."""
    from harness.case import Expected

    if report.reference.error is not None:
        return Expected(error=type(report.reference.error).__name__)
    return Expected(canonical=report.reference.canonical.to_json())

