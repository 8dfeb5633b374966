"""The tests of the quantizer suite and how each runs: :func:`suite_checks` lists them for a configuration (per
model annotate, well_formed, prepare, numerics; random-graph chunks; saved graphs; coverage) and :func:`run_check`
runs one, never raising for anything the quantizer or the prepare under test does.

The checks (see :data:`harness.suite.results.CHECK_DESCRIPTIONS`):

1. ``annotate``: ``transform_for_annotation``, ``annotate`` and ``validate`` return in time without raising, and
   ``annotate``/``validate`` leave the graph unchanged apart from annotations (:mod:`harness.suite.annotate`).
2. ``well_formed``: the annotations are well formed (:mod:`harness.suite.well_formed`).
3. ``prepare``: the reference prepare and the prepare under test agree (:mod:`harness.suite.prepare`).
4. ``numerics``: the quantized model is close to the float model (:mod:`harness.suite.numerics`).
5. Crashes and hangs of the quantizer (and of the prepare under test) are problems, never crashes of the run.
6. ``coverage``: a quantizer that annotates none of the models is an error (:mod:`harness.suite.model_checks`).

With ``qat`` the same checks run for QAT (the quantizer configured for QAT, ``prepare_qat_pt2e``'s steps, fake
quants); their ids end in ``[qat]``. The source passed to :func:`run_check` must match (``source.is_qat``).

Subjects: ``model:<name>`` (:mod:`harness.suite.models`), ``random:<i>`` (:mod:`harness.suite.random_graphs`),
``corpus:<path>`` (:mod:`harness.suite.graph_checks`). Nothing in the suite imports pytest; :mod:`harness.plugin`
turns results into test outcomes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from harness.suite.graph_checks import check_saved_graph
from harness.suite.model_checks import (
    check_coverage,
    check_model_annotate,
    check_model_prepare,
    check_model_well_formed,
)
from harness.suite.numerics import check_numerics
from harness.suite.options import EXAMPLES_PER_CHUNK, SuiteOptions
from harness.suite.random_graphs import search_random_graphs
from harness.suite.results import MODEL_CHECKS, CheckResult
from harness.suite.source import QAT_TAG, QuantizerSource

__all__ = ["SuiteCheck", "suite_checks", "run_check"]


@dataclass(frozen=True)
class SuiteCheck:
    """One test of the suite: ``check`` (a key of ``CHECK_DESCRIPTIONS``) on ``subject``."""

    check: str
    subject: str  # "model:<name>", "random:<i>", "corpus:<path>", "models"
    qat: bool = False

    @property
    def name(self) -> str:
        """The test id: ``numerics[mlp]``, ``random_graphs[0]``, ``corpus[<file stem>]``, ``coverage``; for QAT
        followed by ``[qat]`` (``numerics[mlp][qat]``, ``coverage[qat]``)."""
        return self._base_name() + (QAT_TAG if self.qat else "")

    def _base_name(self) -> str:
        kind, _, what = self.subject.partition(":")
        if kind == "model":
            return f"{self.check}[{what}]"
        if kind == "random":
            return f"random_graphs[{what}]"
        if kind == "corpus":
            return f"corpus[{Path(what).stem}]"
        return self.check


def _corpus_files(corpus: str) -> list[Path]:
    root = Path(corpus)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.json") if p.is_file())


def suite_checks(options: SuiteOptions, qat: bool = False) -> list[SuiteCheck]:
    """The tests of the suite, in a deterministic order: per model annotate, well_formed, prepare, numerics;
    then random-graph chunks, the saved graphs of the corpus directory, and coverage (``qat``: their QAT forms)."""
    out = []
    for name in options.model_list():
        for check in MODEL_CHECKS:
            out.append(SuiteCheck(check, f"model:{name}", qat))
    examples = options.budget.examples
    chunks = math.ceil(examples / EXAMPLES_PER_CHUNK) if examples > 0 else 0
    out.extend(SuiteCheck("random_graphs", f"random:{i}", qat) for i in range(chunks))
    out.extend(SuiteCheck("corpus", f"corpus:{p}", qat) for p in _corpus_files(options.corpus))
    out.append(SuiteCheck("coverage", "models", qat))
    return out


_MODEL_CHECK_FUNCTIONS = {"annotate": check_model_annotate, "well_formed": check_model_well_formed,
                          "prepare": check_model_prepare, "numerics": check_numerics}


def run_check(check: SuiteCheck, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Run one test of the suite; never raises for anything the quantizer or the prepare under test does.
    ``ValueError`` when ``source`` is not for the check's mode (a PTQ source for a QAT check, or the reverse)."""
    if check.qat != source.is_qat:
        raise ValueError(f"{check.name} needs a {'QAT' if check.qat else 'PTQ'} quantizer source, got {source.label}")
    kind, _, what = check.subject.partition(":")
    if check.check == "coverage":
        return check_coverage(source, options)
    if kind == "model" and check.check in _MODEL_CHECK_FUNCTIONS:
        return _MODEL_CHECK_FUNCTIONS[check.check](what, source, options)
    if kind == "random":
        return search_random_graphs(source, options, int(what))
    if kind == "corpus":
        return check_saved_graph(what, source, options)
    raise ValueError(f"unknown suite check {check!r}")
