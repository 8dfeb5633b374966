"""The run summary of the quantizer suite (the ``pt2e quantizer suite`` section of the terminal report): the
records of the suite's tests, also from xdist workers, as a table per quantizer of the models (annotated nodes,
each check, SQNR) followed by random graphs, saved graphs, coverage, notes (allowed behaviours worth knowing) and
the findings written; and, with ``--pt2e-html=FILE``, one HTML page of those findings written at the end of the
session (by the controller only under xdist: the workers' records reach it)."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from harness.plugin.settings import HTML, SETTINGS

__all__ = ["SuiteSummary", "summary_lines"]


class SuiteSummary:
    """Collects the records of the suite's tests (also from xdist workers) and prints the run summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.records: list[dict] = []
        self.html_line: str = ""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in getattr(report, "user_properties", ()):
            if name == "pt2e" and isinstance(value, dict):
                self.records.append(value)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the ``--pt2e-html`` page of the findings written in this run (not in an xdist worker)."""
        out = self.config.stash.get(HTML, None)
        if out is None or hasattr(self.config, "workerinput"):
            return
        from harness.tools.report import write_report

        findings = sorted({r["saved"] for r in self.records if r.get("saved")})
        try:
            write_report(findings, out, title=f"PT2E quantizer findings ({len(findings)})")
            self.html_line = f"HTML report of {len(findings)} finding(s) written to {out}"
        except OSError as e:
            self.html_line = f"cannot write the HTML report {out}: {e.strerror or e}"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.records and not self.html_line:
            return
        terminalreporter.section("pt2e quantizer suite")
        for line in summary_lines(self.records, self.config.stash[SETTINGS]):
            terminalreporter.write_line(line)
        if self.html_line:
            terminalreporter.write_line(self.html_line)


def _by_check(recs: list, scope: str) -> dict[str, list]:
    """The records of ``scope``'s checks, by check: every registered one in registry order (its records, maybe
    none), then any other check that has records."""
    from harness.suite.check_registry import checks_of  # no torch: the registry names its runners by string

    by_check: dict[str, list] = {spec.name: [] for spec in checks_of(scope)}
    for r in recs:
        if r.get("scope") == scope:
            by_check.setdefault(r["check"], []).append(r)
    return by_check


def _model_table(recs: list, settings: dict) -> list[str]:
    """A row per model: annotated nodes, the outcome of each ``model`` check (a column each), the SQNR."""
    by_check = _by_check(recs, "model")
    models: dict[str, dict] = {}
    for name, rs in by_check.items():
        for r in rs:
            models.setdefault(r["subject"], {})[name] = r
    if not models:
        return []
    lines = [f"  {'model':<22}{'annotated':>10}  " + "".join(f"{c:<13}" for c in by_check) + "SQNR dB"]
    order = settings.get("models") or getattr(sys.modules.get("harness.suite.subjects.models"), "MODELS", {})
    rank = {name: i for i, name in enumerate(order)}
    for m, per in sorted(models.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])):
        annotated = next((r["annotated"] for r in per.values() if r.get("annotated") is not None), None)
        sqnr = next((r["sqnr"] for r in per.values() if r.get("sqnr") is not None), None)
        cells = "".join(f"{per[c]['outcome'] if c in per else '-':<13}" for c in by_check)
        shown = "-" if sqnr is None else sqnr if isinstance(sqnr, str) else format(sqnr, ".1f")
        lines.append(f"  {m:<22}{'-' if annotated is None else annotated:>10}  {cells}{shown}")
    return lines


def _titled(words: str, name: str, by_check: dict) -> str:
    """``words`` (the scope's), naming the check when the scope has more than one."""
    return words if len(by_check) == 1 else f"{words} ({name})"


def _random_graphs(recs: list) -> list[str]:
    """A line per ``random`` check: examples drawn and annotated, chunks, failures, known bugs hit, seeds."""
    lines: list[str] = []
    by_check = _by_check(recs, "random")
    for name, randoms in by_check.items():
        if not randoms:
            continue
        n = sum(r.get("examples", 0) for r in randoms)
        annotated = sum(r.get("annotated_examples", 0) for r in randoms)
        failed = sum(1 for r in randoms if r["outcome"] == "failed")
        known = sum(r.get("known", 0) for r in randoms)
        bugs = sorted({b for r in randoms for b in r.get("known_bugs", [])})
        seeds = ", ".join(str(r.get("seed")) for r in randoms)
        unusable = sum(r.get("unusable", 0) for r in randoms)
        skipped = f", {unusable} not exportable (skipped)" if unusable else ""
        lines.append(f"  {_titled('random graphs', name, by_check)}: {n} examples ({annotated} annotated) in "
                     f"{len(randoms)} chunk(s), {failed} failed, {known} known upstream bug hit(s){skipped} "
                     f"(seeds {seeds})")
        lines.extend(f"    known: {b}" for b in bugs)
    return lines


def _saved_graphs(recs: list) -> list[str]:
    """A line per ``saved`` check: graphs checked, failures."""
    by_check = _by_check(recs, "saved")
    return [f"  {_titled('saved graphs', name, by_check)}: {len(saved)} checked, "
            f"{sum(1 for r in saved if r['outcome'] == 'failed')} failed" for name, saved in by_check.items() if saved]


def _quantizer_checks(recs: list) -> list[str]:
    """A line per ``quantizer`` check (coverage): its outcome."""
    return [f"  {r['check']}: {r['outcome']}" for rs in _by_check(recs, "quantizer").values() for r in rs]


def _notes(recs: list) -> list[str]:
    """Allowed behaviours worth knowing (e.g. dead-code elimination by annotate()), once each, with their tests."""
    where: dict[str, list[str]] = {}
    for r in recs:
        for note in r.get("notes", ()):
            where.setdefault(note, []).append(r.get("test", r["check"]))
    return [f"  note: {note} [{', '.join(tests)}]" for note, tests in where.items()]


def summary_lines(records: list, settings: dict) -> list[str]:
    """The run summary: per quantizer, a table of the models (annotated nodes, each check, SQNR) and a line per
    check of the other scopes, in the order of the suite's registry (:mod:`harness.suite.check_registry`)."""
    lines: list[str] = []
    by_quantizer: dict[str, list] = {}
    for r in records:
        by_quantizer.setdefault(r["quantizer"], []).append(r)
    for q, recs in by_quantizer.items():
        lines.append(f"{q}")
        lines.extend(_model_table(recs, settings))
        lines.extend(_random_graphs(recs))
        lines.extend(_saved_graphs(recs))
        lines.extend(_quantizer_checks(recs))
        lines.extend(_notes(recs))
        written = sorted({r["saved"] for r in recs if r.get("saved")})
        if written:
            lines.append(f"  findings written to {settings['corpus']}:")
            lines.extend(f"    {os.path.basename(w)}" for w in written)
    return lines
