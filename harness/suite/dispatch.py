"""The tests of the quantizer suite and how each runs: :func:`suite_checks` lists them for a configuration (every
check of :data:`~harness.suite.check_registry.SUITE_CHECKS` on every subject of its scope) and :func:`run_check`
runs one through its registered runner, never raising for anything the quantizer or the prepare under test does.

The checks (:mod:`harness.suite.check_registry` has their words and runners):

1. ``annotate``: ``transform_for_annotation``, ``annotate`` and ``validate`` return in time without raising, and
   ``annotate``/``validate`` leave the graph unchanged apart from annotations
   (:mod:`harness.suite.checks.quantizer_run`).
2. ``well_formed``: the annotations are well formed (:mod:`harness.suite.checks.well_formed_annotations`).
3. ``prepare``: the reference prepare and the prepare under test agree
   (:mod:`harness.suite.checks.prepare_agreement`).
4. ``numerics``: the quantized model is close to the float model (:mod:`harness.suite.checks.sqnr`).
5. Crashes and hangs of the quantizer (and of the prepare under test) are problems, never crashes of the run.
6. ``coverage``: a quantizer that annotates none of the models is an error (:mod:`harness.suite.checks.model_checks`).

The order: per model its ``model`` checks, then per chunk of random graphs its ``random`` checks, per saved graph
its ``saved`` checks, and the ``quantizer`` checks (coverage); each group in registry order. With ``qat`` the same
checks run for QAT (the quantizer configured for QAT, ``prepare_qat_pt2e``'s steps, fake quants); their ids end in
``[qat]``. The source passed to :func:`run_check` must match (``source.is_qat``). Nothing in the suite imports
pytest; :mod:`harness.plugin` turns results into test outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from harness.suite.check_registry import SUITE_CHECKS, check_spec, checks_of
from harness.suite.options import SuiteOptions
from harness.suite.results import CheckResult
from harness.suite.source import QAT_TAG, QuantizerSource
from harness.suite.subjects.models import model_subjects
from harness.suite.subjects.random_graphs import chunk_subjects
from harness.suite.subjects.saved_graphs import saved_subjects
from harness.suite.subjects.subject import QUANTIZER, SCOPES, Scope, Subject

__all__ = ["SuiteCheck", "subjects_of", "suite_checks", "run_check"]


@dataclass(frozen=True)
class SuiteCheck:
    """One test of the suite: ``check`` (a name in :data:`~harness.suite.check_registry.SUITE_CHECKS`) on
    ``subject``, for QAT with ``qat``."""

    check: str
    subject: Subject
    qat: bool = False

    @property
    def name(self) -> str:
        """The test id: ``numerics[mlp]``, ``random_graphs[0]``, ``corpus[<file stem>]``, ``coverage``; for QAT
        followed by ``[qat]`` (``numerics[mlp][qat]``, ``coverage[qat]``)."""
        base = f"{self.check}[{self.subject.label}]" if self.subject.label else self.check
        return base + (QAT_TAG if self.qat else "")


_SUBJECTS: dict[Scope, Callable[[SuiteOptions], list[Subject]]] = {
    "model": model_subjects,
    "random": chunk_subjects,
    "saved": saved_subjects,
    "quantizer": lambda options: [QUANTIZER],
}


def subjects_of(scope: Scope, options: SuiteOptions) -> list[Subject]:
    """The subjects of kind ``scope`` a run checks (the selected models, the chunks, the saved graphs, the
    quantizer)."""
    return _SUBJECTS[scope](options)


def suite_checks(options: SuiteOptions, qat: bool = False) -> list[SuiteCheck]:
    """The tests of the suite, in a deterministic order (the module docstring's); ``qat``: their QAT forms."""
    out = []
    for scope in SCOPES:
        specs = checks_of(scope)
        if specs:
            out.extend(SuiteCheck(spec.name, subject, qat) for subject in subjects_of(scope, options)
                       for spec in specs)
    return out


def run_check(check: SuiteCheck, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Run one test of the suite with its check's registered runner; never raises for anything the quantizer or
    the prepare under test does. ``ValueError`` when the check is not registered or not for the subject's kind,
    or when ``source`` is not for the check's mode (a PTQ source for a QAT check, or the reverse)."""
    if check.qat != source.is_qat:
        raise ValueError(f"{check.name} needs a {'QAT' if check.qat else 'PTQ'} quantizer source, got {source.label}")
    if check.check not in SUITE_CHECKS or check_spec(check.check).scope != check.subject.kind:
        raise ValueError(f"unknown suite check {check!r}")
    return check_spec(check.check).run_function()(check.subject, source, options)
