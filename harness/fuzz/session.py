"""A worker's session: what every search needs while it runs (the spec and target, the events out, the signatures
already seen, the case counter and its ticks), the case guard, and the checks made through it.

The rules: every check of a case runs between ``guard.enter(case, drawn)`` and ``guard.exit()``
(:meth:`Worker.guarded`: the local engine keeps what it needs to tell that case again and starts its clock, so a hang
or a death is reported with that case). ``drawn`` is the case's index in the worker's stream of fast-drawn cases
(:func:`harness.fuzz.search_fast.case_source`: the case is a pure function of the worker's seed and that index, so
the engine keeps only the index and draws the case again if it must report it); None for any other case (replayed,
shrunk, guided, drawn by hypothesis), which the engine keeps as it is. An
exception from the target is the harness's error (sent as :class:`HarnessError`, keyed by :func:`error_key`), a
:class:`CandidateEscaped` is a *crash* finding (sent once per exception type, the case as is); a known upstream bug,
or a failure found in the time kept for shrinking, is sent as found (:meth:`Worker.unshrunk`). The searches
(:mod:`harness.fuzz.searches`) use this, and so does the replay of saved cases.
"""

from __future__ import annotations

import time
import traceback
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Iterator, Optional

from harness.case import Info
from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.check.groups import without_variant
from harness.check.masked import found_as_note
from harness.fuzz.collection import between_cases
from harness.fuzz.config import WorkerSpec
from harness.fuzz.events import (KIND_CRASH, KIND_DIVERGENCE, STAGE_SHRUNK, Event, FindingEvent, HarnessError,
                                 Progress, Reach, ReplayResult)
from harness.fuzz.target import CandidateEscaped, Target

__all__ = ["SEARCH_MARGIN", "CaseGuard", "Worker", "error_key"]

SEARCH_MARGIN = 1.0  # seconds before the end of the budget when a worker stops checking new cases


class CaseGuard:
    """Told before and after each check (the local engine keeps the case, or its index ``drawn``, and times it);
    does nothing here."""

    def enter(self, case: Any, drawn: Optional[int] = None) -> None:
        pass

    def exit(self) -> None:
        pass


def error_key(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {where}"


class Worker:
    """What a search needs: the spec and target, the events out, the signatures seen, and the case counter."""

    def __init__(self, spec: WorkerSpec, target: Target, emit: Callable[[Event], None], guard: CaseGuard) -> None:
        self.spec, self.config, self.target, self.emit, self.guard = spec, spec.config, target, emit, guard
        self.me = spec.worker
        self.seen: set[str] = set()
        self.reached: set[str] = set()  # the lines of the code under test this worker's cases reached (Target.reach)
        self.cases = 0
        self.checked = 0  # cases checked, counted or not (the collector runs between them, harness.fuzz.collection)
        self._tick = time.time()
        self.generate_until = time.time() + spec.generate_share * max(0.0, spec.end - time.time())
        self.search_until = spec.end - SEARCH_MARGIN

    def elapsed(self) -> float:
        return round(time.time() - self.spec.started, 1)

    def tick(self, force: bool = False) -> None:
        """Send the cases counted since the last tick (at most once a second unless forced)."""
        if self.cases and (force or time.time() - self._tick >= 1.0):
            self.emit(Progress(self.me, self.cases))
            self.cases, self._tick = 0, time.time()

    def note_reach(self) -> frozenset[str]:
        """The lines the last check reached that no earlier case of this worker had (sent as a :class:`Reach`
        event); empty when the target measures no reach."""
        if self.target.reach is None:
            return frozenset()
        new = frozenset(self.target.reach()) - self.reached
        if new:
            self.reached |= new
            self.emit(Reach(self.me, tuple(sorted(new))))
        return new

    def finding(self, report, stage: str, detected: float, found_as: Optional[str] = None) -> FindingEvent:
        """The event of a failing ``report``: its case is the target's finding case as JSON data, which decodes
        (the encoder clips the long texts a finding is described with, such as its signature, to the decoder's
        limits). ``found_as``: the signature the finding was pending under; when shrinking unmasked it
        (:mod:`harness.check.masked`), the summary and the case's notes say so first."""
        known = report.known
        case, summary = self.target.finding_case(report), report.summary()
        moved = found_as is not None and found_as != report.signature
        if moved:
            how = found_as_note(found_as)
            summary = f"{how}\n{summary}"
            case = replace(case, info=replace(case.info, notes=f"{how}\n{case.info.notes}"))
        return FindingEvent(worker=self.me, stage=stage, kind=KIND_DIVERGENCE, signature=report.signature,
                            triage=report.triage, known_id=known.id if known else None,
                            known_title=known.title if known else None, link=known.link if known else None,
                            summary=summary, nodes=len(report.case.graph.nodes), detected=detected,
                            case=case_to_json(case), found_as=found_as if moved else None)

    def crash(self, case, escaped: CandidateEscaped) -> None:
        """Send a crash finding (once per exception type): the case as is."""
        signature = f"crash: {type(escaped.error).__name__}"
        if signature in self.seen:
            return
        self.seen.add(signature)
        text = f"{escaped} while preparing this case (it would end the process of a caller)"
        # info.upstream stays empty: torchao was not run on the case (harness.check.run.upstream_state)
        case = replace(case, info=Info(title=signature, kind="finding", notes=text, tags=("finding", "crash")))
        self.emit(FindingEvent(worker=self.me, stage=STAGE_SHRUNK, kind=KIND_CRASH, signature=signature, triage="new",
                               known_id=None, known_title=None, link=None, summary=text, nodes=len(case.graph.nodes),
                               detected=self.elapsed(), case=case_to_json(case)))

    @contextmanager
    def guarded(self, case, drawn: Optional[int] = None) -> Iterator[None]:
        """The one way a case is checked: between ``guard.enter(case, drawn)`` and ``guard.exit()`` (``drawn``:
        the case's index among the worker's fast-drawn cases, see the module docstring)."""
        self.guard.enter(case, drawn)
        try:
            yield
        finally:
            self.guard.exit()

    def _guarded(self, case, drawn: Optional[int] = None) -> Any:
        """The target's report on ``case`` under the guard, or the :class:`CandidateEscaped` it raised; None when
        the harness failed (sent as a :class:`HarnessError`)."""
        with self.guarded(case, drawn):
            try:
                return self.target.check(case)
            except CandidateEscaped as escaped:
                return escaped
            except Exception as e:  # noqa: BLE001 - a checker failed: the harness's error, not a finding
                self.emit(HarnessError(self.me, error_key(e), traceback.format_exc()))
                return None

    def check(self, case, drawn: Optional[int] = None) -> Any:
        """The target's report on ``case`` under the guard; None when it crashed (sent) or the harness failed
        (sent). Counts the case. ``drawn``: its index among the worker's fast-drawn cases, if it is one."""
        if self.checked:  # harness.fuzz.collection: the objects of the cases before are garbage by now
            between_cases(self.checked)
        self.checked += 1
        report = self._guarded(case, drawn)
        if isinstance(report, CandidateEscaped):
            self.cases += 1
            self.crash(case, report)
            return None
        if report is not None:
            self.cases += 1
        return report

    def unshrunk(self, report) -> bool:
        """Send ``report``'s failure as found, not shrunk, when it is a known upstream bug (unless strict), was
        found in the time kept for shrinking, or is a failure this worker has seen in another configuration variant
        of the quantizer (``config:NAME SIG``, :func:`harness.check.groups.without_variant`); True when sent."""
        late = time.time() > self.generate_until
        again = without_variant(report.signature) in {without_variant(s) for s in self.seen}
        if late or again or (report.known is not None and not self.config.strict):
            # a known upstream bug (torchao reproduced it): its small form is in corpus/upstream_bugs, so the
            # budget goes to the search for new bugs, not to shrinking it again. So is a failure found in the time
            # kept for shrinking (`python -m harness shrink` shrinks it later), and one met again in another
            # variant (its small form is on its way already).
            self.seen.add(report.signature)
            self.emit(replace(self.finding(report, STAGE_SHRUNK, self.elapsed()), shrunk=False))
            return True
        return False

    def replay(self) -> None:
        """The regression half first: do the saved cases still fail?"""
        for label, data in self.spec.replay:
            if time.time() >= self.spec.end:
                break
            case = case_from_json(data)
            report = self._guarded(case)
            if isinstance(report, CandidateEscaped):
                self.crash(case, report)
                self.emit(ReplayResult(self.me, label, True, f"crash: {type(report.error).__name__}", "new", None,
                                       str(report), len(case.graph.nodes)))
                continue
            if report is None:  # a checker failed on a saved case: sent as the harness's error
                continue
            self.cases += 1
            if report.failed:
                self.seen.add(report.signature)  # on disk already: not searched for and shrunk again
            self.emit(ReplayResult(self.me, label, report.failed, report.signature if report.failed else "",
                                   report.triage, report.known.id if report.failed and report.known else None,
                                   report.summary() if report.failed else "", len(case.graph.nodes)))
        self.tick(force=True)
