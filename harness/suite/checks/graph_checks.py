"""Checks 1, 2, 3 and 5 on one case graph (a random graph, or the graph of a saved case whose annotations are
replaced by the quantizer's): the graph is exported as a module program
(:mod:`harness.suite.subjects.case_graphs`), the quantizer annotates it, the annotations must be well formed and
the two prepares must agree on them. :func:`check_saved_graph` is the runner of the ``corpus`` check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from torch.fx import GraphModule

from harness.case.files import load_case
from harness.case.jsonform import CaseFormatError
from harness.suite.check_registry import CORPUS
from harness.suite.checks.prepare_agreement import check_prepare
from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.checks.well_formed_annotations import check_well_formed
from harness.suite.describe import exc_line
from harness.suite.options import SuiteOptions
from harness.suite.results import CheckResult, Problem
from harness.suite.source import QuantizerSource
from harness.suite.subjects.case_graphs import graph_module_for_quantizer
from harness.suite.subjects.subject import Subject

__all__ = ["GraphVerdict", "check_graph", "check_saved_graph"]


@dataclass
class GraphVerdict:
    """The problems found on one graph and the annotated graph; ``unusable`` says why the graph could not be
    turned into a module (not the quantizer's fault)."""

    problems: list[Problem]
    gm: Optional[GraphModule]
    unusable: Optional[str] = None

    @property
    def failed(self) -> bool:
        return any(p.level == "error" for p in self.problems)


def check_graph(graph: Any, source: QuantizerSource, options: SuiteOptions,
                what: str = "a random graph") -> GraphVerdict:
    """Checks 1, 2, 3 and 5 on one case graph (the quantizer annotates it); ``what`` names the graph in what is
    remembered if the quantizer hangs on it."""
    try:
        gm = graph_module_for_quantizer(graph, source.export_strict)
    except Exception as e:  # noqa: BLE001
        return GraphVerdict([], None, unusable=exc_line(e))
    timeout = options.budget.timeout
    ann = run_quantizer(gm, source, timeout, what, options.hang_markers)
    problems = list(ann.problems)
    if not ann.failed:
        wf = check_well_formed(ann.gm)
        problems.extend(wf)
        if not any(p.level == "error" for p in wf):
            problems.extend(check_prepare(ann.gm, options.prepare, timeout, source.is_qat)[0])
    return GraphVerdict(problems, ann.gm)


def check_saved_graph(subject: Subject, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Checks 1, 2, 3 and 5 on the graph of the saved case ``subject`` (its annotations are replaced by the
    quantizer's)."""
    result = CheckResult(CORPUS.name, subject, source.label)
    try:
        case = load_case(subject.name)
    except CaseFormatError as e:
        result.problems.append(Problem(CORPUS.name, f"cannot load the saved case: {e}", "skip"))
        return result
    verdict = check_graph(case.graph, source, options, subject.text)
    if verdict.unusable is not None:
        result.problems.append(Problem(CORPUS.name, f"the saved graph cannot be built: {verdict.unusable}", "skip"))
        return result
    result.problems.extend(verdict.problems)
    result.gm = verdict.gm
    return result
