"""Checks 1, 2, 3 and 5 on one case graph (a random graph, or the graph of a saved case whose annotations are
replaced by the quantizer's): the graph is exported as a module program, the quantizer annotates it, the
annotations must be well formed and the two prepares must agree on them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch.fx import GraphModule

from harness import strategies
from harness.case.files import load_case
from harness.case.jsonform import CaseFormatError
from harness.fx.build import build_module, example_inputs
from harness.suite.annotate import run_quantizer
from harness.suite.describe import exc_line
from harness.suite.models import strip_guards
from harness.suite.options import SuiteOptions
from harness.suite.prepare import check_prepare
from harness.suite.results import CheckResult, Problem
from harness.suite.source import QuantizerSource
from harness.suite.well_formed import check_well_formed

__all__ = ["GraphVerdict", "check_graph", "check_saved_graph"]


def graph_module_for_quantizer(graph: Any, strict: bool = False) -> GraphModule:
    """The exported module program of a case graph (the IR a quantizer really sees), or the built graph when the
    graph cannot be written as a module program; either with its arguments spelled as torch.export spells calls
    from Python code (:func:`_positional`). ``strict``: export with ``strict=True``."""
    try:
        module = strategies.graph_to_module(graph)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ep = torch.export.export(module, example_inputs(graph), strict=strict)
        try:
            gm = ep.module(check_guards=False)
        except TypeError:
            gm = ep.module()
        return _positional(strip_guards(gm))
    except Exception:  # noqa: BLE001 - fall back to the graph as built
        return _positional(build_module(graph))


def _positional(gm: GraphModule) -> GraphModule:
    """``gm`` with every aten call's arguments positional except keyword-only ones, as torch.export records a call
    from Python code (``torch.reshape(x, shape=(256,))`` becomes ``reshape(x, [256])``). A generated graph may call
    the op overload with a list argument by keyword, which export then keeps as it is; a quantizer reading
    ``node.args[1]`` must not fail for the harness's reason on it (ExecuTorch's QNN quantizer did)."""
    for n in gm.graph.nodes:
        if n.op != "call_function" or not n.kwargs or not isinstance(n.target, torch._ops.OpOverload):
            continue
        schema = n.target._schema.arguments
        given = dict(zip((a.name for a in schema), n.args)) | dict(n.kwargs)
        positional = [a for a in schema if not a.kwarg_only]
        last = max((i for i, a in enumerate(positional) if a.name in given), default=-1)
        if any(a.name not in given and not a.has_default_value() for a in positional[:last + 1]):
            continue  # not a call of this schema: left as it is
        n.args = tuple(given[a.name] if a.name in given else a.default_value for a in positional[:last + 1])
        n.kwargs = {a.name: given[a.name] for a in schema if a.kwarg_only and a.name in given}
    gm.recompile()
    return gm


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
                subject: str = "a random graph") -> GraphVerdict:
    """Checks 1, 2, 3 and 5 on one case graph (the quantizer annotates it); ``subject`` names the graph in what is
    remembered if the quantizer hangs on it."""
    try:
        gm = graph_module_for_quantizer(graph, source.export_strict)
    except Exception as e:  # noqa: BLE001
        return GraphVerdict([], None, unusable=exc_line(e))
    timeout = options.budget.timeout
    ann = run_quantizer(gm, source, timeout, subject, options.hang_markers)
    problems = list(ann.problems)
    if not ann.failed:
        wf = check_well_formed(ann.gm)
        problems.extend(wf)
        if not any(p.level == "error" for p in wf):
            problems.extend(check_prepare(ann.gm, options.prepare, timeout, source.is_qat)[0])
    return GraphVerdict(problems, ann.gm)


def check_saved_graph(path: str, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Checks 1, 2, 3 and 5 on the graph of a saved case (its annotations are replaced by the quantizer's)."""
    result = CheckResult("corpus", f"corpus:{path}", source.label)
    try:
        case = load_case(path)
    except CaseFormatError as e:
        result.problems.append(Problem("corpus", f"cannot load the saved case: {e}", "skip"))
        return result
    verdict = check_graph(case.graph, source, options, f"saved graph {Path(path).name}")
    if verdict.unusable is not None:
        result.problems.append(Problem("corpus", f"the saved graph cannot be built: {verdict.unusable}", "skip"))
        return result
    result.problems.extend(verdict.problems)
    result.gm = verdict.gm
    return result
