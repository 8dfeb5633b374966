"""One fuzz worker: rounds of hypothesis until its deadlines, each failure triaged, shrunk and sent as an event.

The worker runs rounds of hypothesis, each round a few dozen cases drawn and checked by the campaign's
:class:`harness.fuzz.target.Target` (by default generated cases, :func:`harness.check.run.check_case` of the
candidate; with ``--quantizer``, the quantizer suite's random-graph checks). The first case of a round that fails in a way this worker has not seen
becomes the round's target: it is sent at once as a *pending* finding (the driver writes it, so a finding is never
lost), hypothesis shrinks it (only cases failing with the same signature count, so shrinking never slips to
another bug) and the smallest case is sent as the *shrunk* finding. The worker never writes corpus files.

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

import random
import time
import traceback
import warnings
from dataclasses import replace
from typing import Any, Callable, Optional

from harness.case import Info
from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.fuzz.config import WorkerSpec
from harness.fuzz.events import (KIND_CRASH, KIND_DIVERGENCE, STAGE_PENDING, STAGE_SHRUNK, BadCandidate, Event,
                                 FindingEvent, HarnessError, HarnessWarning, Progress, Ready, ReplayResult)
from harness.fuzz.target import (CandidateEscaped, case_strategy, finding_case,  # noqa: F401 - public here before
                                 guarded, load_target)

SEARCH_MARGIN = 1.0  # seconds before the end of the budget when a worker stops checking new cases


class CaseGuard:
    """Told before and after each check (the local engine saves the case and times it); does nothing here."""

    def enter(self, case: Any) -> None:
        pass

    def exit(self) -> None:
        pass


class _Found(Exception):
    """Raised inside a hypothesis round to make it shrink the current target."""


def error_key(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {where}"


def _from_hypothesis(w: warnings.WarningMessage) -> bool:
    """A warning about the fuzzing itself (the candidate's and torch's own warnings are not the harness's)."""
    return w.category.__module__.startswith("hypothesis") or "/hypothesis/" in str(w.filename)


def run_worker(spec: WorkerSpec, emit: Callable[[Event], None], guard: Optional[CaseGuard] = None) -> None:
    """Fuzz until the spec's deadlines, calling ``emit`` with every event (see the module docstring)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings

    config, me, guard = spec.config, spec.worker, guard or CaseGuard()
    try:
        target = load_target(config)
    except BaseException as e:  # noqa: BLE001 - a module that fails to import, or exits, is unusable
        what = " or ".join(repr(x) for x in (config.candidate, config.quantizer) if x)
        emit(BadCandidate(me, str(e) if isinstance(e, ValueError) else f"{what}: importing it raised "
                          f"{type(e).__name__}: {e}"))
        return
    emit(Ready(me))
    generate_until = time.time() + spec.generate_share * max(0.0, spec.end - time.time())
    seen: set[str] = set()
    warned: set[str] = set()
    rng = random.Random(spec.seed)
    counter = {"cases": 0, "tick": time.time()}

    def tick(force: bool = False) -> None:
        if counter["cases"] and (force or time.time() - counter["tick"] >= 1.0):
            emit(Progress(me, counter["cases"]))
            counter["cases"], counter["tick"] = 0, time.time()

    def finding(report, stage: str, detected: float) -> FindingEvent:
        known = report.known
        return FindingEvent(me, stage, KIND_DIVERGENCE, report.signature, report.triage,
                            known.id if known else None, known.title if known else None, known.link if known else None,
                            report.summary(), len(report.case.graph.nodes), detected,
                            case_to_json(target.finding_case(report)))

    def crash(case, escaped: CandidateEscaped) -> None:
        signature = f"crash: {type(escaped.error).__name__}"
        if signature in seen:
            return
        seen.add(signature)
        text = f"{escaped} while preparing this case (it would end the process of a caller)"
        case = replace(case, info=Info(title=signature, kind="finding", notes=text, upstream="crashes",
                                       tags=("finding", "crash")))
        emit(FindingEvent(me, STAGE_SHRUNK, KIND_CRASH, signature, "new", None, None, None, text,
                          len(case.graph.nodes), round(time.time() - spec.started, 1), case_to_json(case)))

    for label, data in spec.replay:  # the regression half first: do the saved cases still fail?
        if time.time() >= spec.end:
            break
        case = case_from_json(data)
        guard.enter(case)
        try:
            report = target.check(case)
        except CandidateEscaped as escaped:
            guard.exit()
            crash(case, escaped)
            emit(ReplayResult(me, label, True, f"crash: {type(escaped.error).__name__}", "new", None, str(escaped),
                              len(case.graph.nodes)))
            continue
        except Exception as e:  # noqa: BLE001 - a checker failed on a saved case: the harness's error
            guard.exit()
            emit(HarnessError(me, error_key(e), traceback.format_exc()))
            continue
        guard.exit()
        counter["cases"] += 1
        if report.failed:
            seen.add(report.signature)  # on disk already: not searched for and shrunk again
        emit(ReplayResult(me, label, report.failed, report.signature if report.failed else "", report.triage,
                          report.known.id if report.failed and report.known else None,
                          report.summary() if report.failed else "", len(case.graph.nodes)))
    tick(force=True)

    search_until = spec.end - SEARCH_MARGIN
    while time.time() < search_until:
        state: dict = {"target": None, "best": None, "sent": None, "detected": None, "stop": None}

        def flush() -> None:
            if state["best"] is not None:
                seen.add(state["best"].signature)
                emit(finding(state["best"], STAGE_SHRUNK, state["detected"]))
                state["sent"], state["best"] = state["best"], None

        @settings(max_examples=config.round_size, database=None, deadline=None, phases=[Phase.generate, Phase.shrink],
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False, verbosity=Verbosity.quiet,
                  print_blob=False)
        @seed(rng.getrandbits(64))
        @given(target.strategy)
        def round_(case) -> None:
            now = time.time()
            if state["stop"] and now > state["stop"]:
                flush()  # out of time while shrinking: the best case so far goes out now, hypothesis winds down
                return
            if state["target"] is None and now > search_until:
                return
            guard.enter(case)
            try:
                report = target.check(case)
            except CandidateEscaped as escaped:
                guard.exit()
                counter["cases"] += 1
                crash(case, escaped)
                return
            except Exception as e:  # noqa: BLE001 - a checker failed: the harness's error, not a finding
                guard.exit()
                emit(HarnessError(me, error_key(e), traceback.format_exc()))
                return
            guard.exit()
            counter["cases"] += 1
            tick()
            if not report.failed or report.signature in seen:
                return
            late = time.time() > generate_until  # the time kept for shrinking: still searched, not shrunk
            if state["target"] is None and (late or (report.known is not None and not config.strict)):
                # a known upstream bug (torchao reproduced it): its small form is in corpus/upstream_bugs, so the
                # budget goes to the search for new bugs, not to shrinking it again; sent as found. So is a failure
                # found in the time kept for shrinking (`python -m harness shrink` shrinks it later).
                seen.add(report.signature)
                emit(replace(finding(report, STAGE_SHRUNK, round(time.time() - spec.started, 1)), shrunk=False))
                return
            if state["target"] is None:
                state["target"] = report.signature
                state["detected"] = round(time.time() - spec.started, 1)
                state["stop"] = min(spec.end, time.time() + config.shrink_seconds)
                emit(finding(report, STAGE_PENDING, state["detected"]))
            if report.signature != state["target"]:
                return
            state["best"] = report
            raise _Found(report.signature)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                round_()
            except _Found:
                pass
            except Exception as e:  # noqa: BLE001 - hypothesis trouble must not end the run, but is counted
                if not (state["stop"] and time.time() > state["stop"]):  # else: hypothesis replaying a case after
                    emit(HarnessError(me, error_key(e), traceback.format_exc()))  # we stopped checking (flaky)
        for w in caught:
            text = f"{w.category.__name__}: {w.message}"
            if _from_hypothesis(w) and text not in warned:
                warned.add(text)
                emit(HarnessWarning(me, text))
        flush()
        if state["sent"] is not None and config.stop_on_new and state["sent"].triage != "known":
            break
    tick(force=True)
