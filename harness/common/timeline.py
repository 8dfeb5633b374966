"""A campaign's timeline: what the fuzz driver saw over time, written as it runs and read by the HTML report.

The file is ``OUT/timeline.jsonl`` (:data:`TIMELINE_FILE`; not ``*.json``, so the report never takes it for a
case), one JSON object a line, appended as the campaign goes, so an interrupted run keeps its timeline so far:

* a tick (every progress line): ``{"t": seconds since the start, "cases": cases checked so far, "lines": quantizer
  lines reached so far or null, "groups": finding groups so far, "findings": findings so far}``;
* a finding first seen: ``{"t": ..., "first_seen": its signature, "status": "NEW" | "known" | ...}``;
* the start of a run: ``{"t": 0, "start": a label}``; a second run into the same OUT starts a new timeline.

A line that cannot be read (a run killed mid-write, a hand edit) is skipped: the timeline is a picture, never a
verdict. The writer and the reader are here, below both the campaign and the report.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

__all__ = ["TIMELINE_FILE", "Tick", "FirstSeen", "Timeline", "TimelineWriter", "read_timeline"]

TIMELINE_FILE = "timeline.jsonl"


@dataclass(frozen=True)
class Tick:
    t: float
    cases: int
    lines: Optional[int]
    groups: int
    findings: int


@dataclass(frozen=True)
class FirstSeen:
    t: float
    signature: str
    status: str


@dataclass
class Timeline:
    """The last run's ticks and first sightings, in time order; ``label`` is what the run said it fuzzed."""

    label: str = ""
    ticks: list[Tick] = field(default_factory=list)
    first_seen: list[FirstSeen] = field(default_factory=list)


class TimelineWriter:
    """Appends the lines of one run to ``OUT/timeline.jsonl``; a failure to write is remembered and the timeline
    dropped (it never ends a campaign)."""

    def __init__(self, out: Union[str, "os.PathLike[str]"], label: str) -> None:
        self.path = Path(out) / TIMELINE_FILE
        self.failed: Optional[OSError] = None
        self._write({"t": 0.0, "start": label})

    def _write(self, record: dict) -> None:
        if self.failed is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as e:
            self.failed = e

    def tick(self, t: float, cases: int, lines: Optional[int], groups: int, findings: int) -> None:
        self._write({"t": round(t, 2), "cases": cases, "lines": lines, "groups": groups, "findings": findings})

    def seen(self, t: float, signature: str, status: str) -> None:
        self._write({"t": round(t, 2), "first_seen": signature, "status": status})


def _number(value: object) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def read_timeline(directory: Union[str, "os.PathLike[str]"]) -> Optional[Timeline]:
    """The last run's timeline in ``directory`` (None when there is no file or it holds nothing readable)."""
    path = Path(directory) / TIMELINE_FILE
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    timeline: Optional[Timeline] = None
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or _number(record.get("t")) is None:
            continue
        t = _number(record["t"])
        if isinstance(record.get("start"), str):
            timeline = Timeline(record["start"])
        elif timeline is None:
            continue
        elif isinstance(record.get("first_seen"), str):
            timeline.first_seen.append(FirstSeen(t, record["first_seen"], str(record.get("status", ""))))
        elif all(_number(record.get(k)) is not None for k in ("cases", "groups", "findings")):
            lines = _number(record.get("lines"))
            timeline.ticks.append(Tick(t, int(record["cases"]), None if lines is None else int(lines),
                                       int(record["groups"]), int(record["findings"])))
    return timeline if timeline is not None and (timeline.ticks or timeline.first_seen) else None
