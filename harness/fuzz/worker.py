"""One fuzz worker: replays its saved cases, then searches until its deadlines; each failure triaged, shrunk and
sent as an event.

The worker checks cases with the campaign's :class:`harness.fuzz.target.Target` (by default generated cases,
:func:`harness.check.run.check_case` of the candidate; with ``--quantizer``, the quantizer suite's random-graph
checks). The search draws the target's strategy in one of two ways (``--generation``):

* ``fast`` (the default, :mod:`harness.fuzz.search_fast`): cases drawn straight from a seeded ``Random``
  (:func:`harness.strategies.fast.fast_example`), a failure shrunk by the greedy case reducer
  (:mod:`harness.fuzz.greedy`). A strategy the fast source cannot draw switches the worker to ``hypothesis``, with
  a warning;
* ``hypothesis`` (:mod:`harness.fuzz.search_hypothesis`): rounds of hypothesis, a failure shrunk by hypothesis.

Either way the first case that fails in a way this worker has not seen is sent at once as a *pending* finding (the
driver writes it, so a finding is never lost), shrunk (only cases failing with the same signature count, so
shrinking never slips to another bug), and the smallest case is sent as the *shrunk* finding. The worker never
writes corpus files.

A failure that is a known upstream bug (torchao fails the same case the same way) is sent as found, not shrunk,
unless ``--strict``: its small form is already in ``corpus/upstream_bugs``, and shrinking it again would spend the
budget that the search for new bugs needs.

Deadlines: the worker stops at ``spec.end`` (the end of the campaign's budget). Of the time it has once ready, the
first ``spec.generate_share`` is when a new failure is shrunk; the rest is kept for shrinking (a finding shrinks
until ``end`` at the latest, and for ``config.shrink_seconds`` at most), so shrinking takes a share of the budget,
not extra time. The search goes on in that kept time (until ``SEARCH_MARGIN`` before the end) when nothing is
being shrunk; a failure found then is sent as found, not shrunk.

What the candidate (or quantizer) does to the worker: an exception is a result (a divergence); ``SystemExit``,
``KeyboardInterrupt`` and other ``BaseException`` escaping it are a *crash* finding, sent as is (not
shrunk). Before each case the :class:`CaseGuard` is told (the local engine writes the case to disk and starts
the case's clock), so a process death or a hang is reported by the engine with the case that caused it. Errors of
the harness itself (hypothesis, a checker) are sent as :class:`HarnessError`, hypothesis's warnings as
:class:`HarnessWarning`.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import replace
from typing import Any, Callable, Optional

from harness.case import Info
from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.fuzz.config import WorkerSpec
from harness.fuzz.events import (KIND_CRASH, KIND_DIVERGENCE, STAGE_SHRUNK, BadCandidate, Event, FindingEvent,
                                 HarnessError, HarnessWarning, Progress, Ready, ReplayResult)
from harness.fuzz.target import (CandidateEscaped, Target, case_strategy, finding_case,  # noqa: F401 - public here
                                 guarded, load_target)

SEARCH_MARGIN = 1.0  # seconds before the end of the budget when a worker stops checking new cases


class CaseGuard:
    """Told before and after each check (the local engine saves the case and times it); does nothing here."""

    def enter(self, case: Any) -> None:
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
        self.cases = 0
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

    def finding(self, report, stage: str, detected: float) -> FindingEvent:
        """The event of a failing ``report``: its case is the target's finding case as JSON data, which decodes
        (the encoder clips the long texts a finding is described with, such as its signature, to the decoder's
        limits)."""
        known = report.known
        return FindingEvent(worker=self.me, stage=stage, kind=KIND_DIVERGENCE, signature=report.signature,
                            triage=report.triage, known_id=known.id if known else None,
                            known_title=known.title if known else None, link=known.link if known else None,
                            summary=report.summary(), nodes=len(report.case.graph.nodes), detected=detected,
                            case=case_to_json(self.target.finding_case(report)))

    def crash(self, case, escaped: CandidateEscaped) -> None:
        """Send a crash finding (once per exception type): the case as is."""
        signature = f"crash: {type(escaped.error).__name__}"
        if signature in self.seen:
            return
        self.seen.add(signature)
        text = f"{escaped} while preparing this case (it would end the process of a caller)"
        case = replace(case, info=Info(title=signature, kind="finding", notes=text, upstream="crashes",
                                       tags=("finding", "crash")))
        self.emit(FindingEvent(worker=self.me, stage=STAGE_SHRUNK, kind=KIND_CRASH, signature=signature, triage="new",
                               known_id=None, known_title=None, link=None, summary=text, nodes=len(case.graph.nodes),
                               detected=self.elapsed(), case=case_to_json(case)))

    def _guarded(self, case) -> Any:
        """The target's report on ``case`` under the guard, or the :class:`CandidateEscaped` it raised; None when
        the harness failed (sent as a :class:`HarnessError`)."""
        self.guard.enter(case)
        try:
            return self.target.check(case)
        except CandidateEscaped as escaped:
            return escaped
        except Exception as e:  # noqa: BLE001 - a checker failed: the harness's error, not a finding
            self.emit(HarnessError(self.me, error_key(e), traceback.format_exc()))
            return None
        finally:
            self.guard.exit()

    def check(self, case) -> Any:
        """The target's report on ``case`` under the guard; None when it crashed (sent) or the harness failed
        (sent). Counts the case."""
        report = self._guarded(case)
        if isinstance(report, CandidateEscaped):
            self.cases += 1
            self.crash(case, report)
            return None
        if report is not None:
            self.cases += 1
        return report

    def unshrunk(self, report) -> bool:
        """Send ``report``'s failure as found, not shrunk, when it is a known upstream bug (unless strict) or was
        found in the time kept for shrinking; True when sent."""
        late = time.time() > self.generate_until
        if late or (report.known is not None and not self.config.strict):
            # a known upstream bug (torchao reproduced it): its small form is in corpus/upstream_bugs, so the
            # budget goes to the search for new bugs, not to shrinking it again. So is a failure found in the time
            # kept for shrinking (`python -m harness shrink` shrinks it later).
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


def run_worker(spec: WorkerSpec, emit: Callable[[Event], None], guard: Optional[CaseGuard] = None) -> None:
    """Fuzz until the spec's deadlines, calling ``emit`` with every event (see the module docstring)."""
    config = spec.config
    try:
        target = load_target(config)
    except BaseException as e:  # noqa: BLE001 - a module that fails to import, or exits, is unusable
        what = " or ".join(repr(x) for x in (config.candidate, config.quantizer) if x)
        emit(BadCandidate(spec.worker, str(e) if isinstance(e, ValueError) else f"{what}: importing it raised "
                          f"{type(e).__name__}: {e}"))
        return
    emit(Ready(spec.worker))
    worker = Worker(spec, target, emit, guard or CaseGuard())
    worker.replay()
    generation = config.generation
    if generation == "fast":
        from harness.fuzz.search_fast import search_fast
        from harness.strategies.fast import FastUnsupported

        try:
            search_fast(worker)
        except FastUnsupported as e:
            emit(HarnessWarning(spec.worker, f"--generation fast cannot draw this target's cases ({e}); this worker "
                                "goes on with --generation hypothesis"))
            generation = "hypothesis"
    if generation == "hypothesis":
        from harness.fuzz.search_hypothesis import search_hypothesis

        search_hypothesis(worker)
    worker.tick(force=True)
