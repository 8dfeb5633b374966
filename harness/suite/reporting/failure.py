"""What the user sees of a failing check: the failure report (what failed in plain words, the annotations at fault,
the annotated graph, the corpus file and how to look at it) and the failing case written to the corpus directory."""

from __future__ import annotations

from harness import case as C
from harness.case.files import save_case
from harness.fx.extract import UnsupportedGraph, extract_annotations, extract_case, extract_graph
from harness.suite.check_registry import PREPARE, description
from harness.suite.describe import exc_line
from harness.suite.reporting.render import render_graph
from harness.suite.results import CheckResult

__all__ = ["save_finding", "format_result"]


def save_finding(result: CheckResult, corpus: str) -> None:
    """Write the failing case (the annotated graph, or just the graph if its annotations cannot be written) to
    ``corpus`` (atomic, content-named) and record the path or the reason it could not be written."""
    if result.gm is None:
        return
    first = result.errors[0] if result.errors else (result.problems[0] if result.problems else None)
    info = C.Info(
        title=f"{result.quantizer.split(':')[-1]} {result.check} {result.subject.text}",
        kind="finding",
        notes=f"quantizer {result.quantizer}: {first.message if first else ''}"[:4000],
        tags=("pt2e-plugin", result.check),
    )
    try:
        try:
            case = extract_case(result.gm, info=info)
        except UnsupportedGraph:
            case = C.Case(extract_graph(result.gm), (), info=info)
            try:
                extract_annotations(result.gm)
            except UnsupportedGraph as e:
                result.save_error = f"annotations not saved: {e}"
        result.saved = str(save_case(case, corpus))
    except Exception as e:  # noqa: BLE001 - a graph a case cannot hold
        result.save_error = f"the case cannot be saved: {exc_line(e)}"


def format_result(result: CheckResult) -> str:
    """The failure report: what failed in plain words, the annotations at fault, the graph, the corpus file."""
    shown = [p for p in result.problems if p.level in ("error", "known")] or result.problems
    lines = [f"quantizer {result.quantizer} on {result.subject.text}",
             f"check: {description(result.check)}"]
    for p in shown:
        body = p.message.replace("\n", "\n    ")
        lines.append(f"  {'FAILED' if p.level == 'error' else p.level.upper()} [{p.check}] {body}")
    fault = [n for p in shown for n in p.nodes]
    if result.gm is not None:
        if fault:
            lines.append("annotations at fault: " + ", ".join(dict.fromkeys(fault)))
        lines.append(f"graph ({sum(1 for _ in result.gm.graph.nodes)} nodes; '!' marks annotations at fault):")
        lines.append(render_graph(result.gm, fault))
    if "seed" in result.stats:
        lines.append(f"hypothesis seed: {result.stats['seed']}")
    if result.saved:
        lines.append(f"case written to {result.saved}")
        lines.append(f"  look at it with its sharing groups: python -m harness show {result.saved} [--svg OUT.svg]")
        if any(p.check == PREPARE.name for p in shown):
            lines.append(f"  a standalone script reproducing it upstream: python -m harness repro {result.saved}")
    if result.save_error:
        lines.append(f"({result.save_error})")
    return "\n".join(lines)
