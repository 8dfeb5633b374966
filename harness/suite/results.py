"""What a check of the quantizer suite reports: a :class:`Problem` in plain words, and the :class:`CheckResult` of
one check on one :class:`~harness.suite.subjects.subject.Subject` (with what is needed to show and save a failing
case). The checks themselves, their names and meanings, are in :mod:`harness.suite.check_registry`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Optional

from torch.fx import GraphModule

from harness.suite.subjects.subject import Subject

__all__ = ["Level", "Problem", "CheckResult"]

Level = Literal["error", "warning", "known", "skip", "note"]


@dataclass(frozen=True)
class Problem:
    """One finding of a check. ``level``: ``error`` fails the check; ``warning`` warns; ``known`` is a known
    upstream bug (an expected failure); ``skip`` says why the check could not run; ``note`` is an allowed behaviour
    worth mentioning in the run summary (e.g. dead-code elimination by annotate()). ``nodes`` are the annotated
    nodes at fault."""

    check: str
    message: str
    level: Level = "error"
    nodes: tuple[str, ...] = ()


@dataclass
class CheckResult:
    """The outcome of one check (its name in :data:`~harness.suite.check_registry.SUITE_CHECKS`) on one subject."""

    check: str
    subject: Subject
    quantizer: str
    problems: list[Problem] = field(default_factory=list)
    gm: Optional[GraphModule] = None  # the annotated graph shown in the report (None if there is none)
    sqnr: Optional[float] = None
    annotated: Optional[int] = None  # number of nodes with a quantization spec
    saved: Optional[str] = None  # corpus file written for this failure
    save_error: Optional[str] = None
    stats: dict = field(default_factory=dict)  # JSON-able extras for the run summary

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def outcome(self) -> Literal["failed", "known", "skipped", "passed"]:
        levels = {p.level for p in self.problems}
        if "error" in levels:
            return "failed"
        if "known" in levels:
            return "known"
        if "skip" in levels:
            return "skipped"
        return "passed"

    def summary_record(self) -> dict:
        """What the plugin's terminal summary shows for this check (JSON-able)."""
        return {
            "quantizer": self.quantizer,
            "check": self.check,
            "scope": self.subject.kind,
            "subject": self.subject.name,
            "outcome": self.outcome,
            "sqnr": None if self.sqnr is None else round(self.sqnr, 3) if math.isfinite(self.sqnr) else str(self.sqnr),
            "annotated": self.annotated,
            "saved": self.saved,
            "problems": [f"{p.level}: {p.message.splitlines()[0]}" for p in self.problems][:5],
            "notes": sorted({p.message.splitlines()[0] for p in self.problems if p.level == "note"}),
            **self.stats,
        }
