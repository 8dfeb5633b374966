"""The messages of a fuzz campaign: what workers (and the engine that runs them) tell the driver.

Every event is a small, picklable dataclass naming its worker: a :class:`WorkerEvent`. A finding travels as case
*data* (the JSON dict of :mod:`harness.case.files`), never as a path: the driver alone writes corpus files, so
workers need no shared filesystem. The engine itself reports the workers it lost (:class:`WorkerLost`: a case over
its time limit, or a process that died) with the case that was running, when it knows it. The driver handles an
event by its kind (:func:`event_kind`: ``FindingEvent`` is ``finding``, ``WorkerLost`` is ``worker_lost``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

# what a finding is
KIND_DIVERGENCE, KIND_CRASH, KIND_TIMEOUT = "divergence", "crash", "timeout"
# a worker lost to its infrastructure (a cluster node or actor gone), not to its candidate: restarted, not a finding
KIND_LOST = "lost"
# how far a finding got: seen (write it at once, as pending) or shrunk (write it as the corpus case)
STAGE_PENDING, STAGE_SHRUNK = "pending", "shrunk"


@dataclass(frozen=True)
class WorkerEvent:
    """What every event holds: the worker it is from (or about). The events are its subclasses; one that adds no
    field needs no ``@dataclass`` of its own (it inherits this one's ``__init__``, ``__eq__`` (same class only) and
    ``__repr__``)."""

    worker: int


class Ready(WorkerEvent):
    """The worker has loaded the candidate and starts fuzzing."""


class Done(WorkerEvent):
    """The worker finished normally (its budget is spent)."""


@dataclass(frozen=True)
class Notice(WorkerEvent):
    """A worker's words for the driver, shown once: a subclass says what they are."""

    text: str


class BadCandidate(Notice):
    """The candidate cannot be loaded (``MODULE:FUNCTION`` does not name a function): a usage error."""


class HarnessWarning(Notice):
    """A warning raised while fuzzing (e.g. by hypothesis): shown once, does not change the exit status."""


@dataclass(frozen=True)
class HarnessError(WorkerEvent):
    """An error of the harness itself (hypothesis, a checker, the worker): the run's results are not trustworthy."""

    key: str  # what makes two errors the same one (exception type and where it was raised)
    text: str  # the traceback


@dataclass(frozen=True)
class Progress(WorkerEvent):
    """``cases`` more cases checked since the worker's last Progress."""

    cases: int


@dataclass(frozen=True)
class Reach(WorkerEvent):
    """Lines of the quantizer's own package (``PACKAGE/path.py:LINE``, :mod:`harness.fuzz.reach`) that a case reached
    and no earlier case of this worker had: the driver counts the union over all workers."""

    lines: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FindingEvent(WorkerEvent):
    """A failing case, at ``stage`` pending (first seen) or shrunk (final). Built by keyword only (twelve fields,
    several of the same type)."""

    stage: str
    kind: str  # KIND_*
    signature: str
    triage: str  # "new", "known" or "reference" (harness.check.run.TRIAGE_*)
    known_id: Optional[str]
    known_title: Optional[str]
    link: Optional[str]
    summary: str
    nodes: int
    detected: float  # seconds since the start of the campaign
    case: dict  # the case as JSON data (harness.case.files.case_to_json)
    shrunk: bool = True  # False: sent as found (a known upstream bug is not shrunk again)
    # a shrunk finding's signature when pending, where shrinking changed it (harness.check.masked: unmasked)
    found_as: Optional[str] = None


@dataclass(frozen=True)
class ReplayResult(WorkerEvent):
    """A saved case replayed before the search (``label``: where it came from): does it still fail?"""

    label: str
    failed: bool
    signature: str
    triage: str
    known_id: Optional[str]
    summary: str
    nodes: int


@dataclass(frozen=True)
class WorkerLost(WorkerEvent):
    """Sent by the engine: the worker is gone (``reason`` KIND_TIMEOUT, KIND_CRASH or KIND_LOST), ``detail`` in words.

    ``case`` is the case that was being checked (JSON data), or None when none was; ``ready`` says whether the
    worker had started fuzzing (a worker lost before that is a harness error, not a finding).
    """

    reason: str
    detail: str
    case: Optional[dict]
    ready: bool


Event = WorkerEvent  # every event is one


def event_kind(event: Any) -> str:
    """The kind of an event: its class name in snake case, without an ``Event`` suffix (``Progress`` is
    ``progress``, ``FindingEvent`` is ``finding``, ``WorkerLost`` is ``worker_lost``)."""
    name = re.sub(r"Event$", "", type(event).__name__) or type(event).__name__
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
