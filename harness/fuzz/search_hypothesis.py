"""The search by hypothesis (``--generation hypothesis``): rounds of ``config.round_size`` cases, a failure shrunk by
hypothesis's own shrinker.

The rule: the first case of a round that fails in a way the worker has not seen becomes the round's target: it is
sent at once as a *pending* finding, hypothesis shrinks it (only cases failing with the target's signature count,
so shrinking never slips to another bug) until ``config.shrink_seconds`` or the end of the budget, and the smallest
case is sent as the *shrunk* finding. Known upstream bugs and failures found late are sent as found
(:meth:`harness.fuzz.session.Worker.unshrunk`). Hypothesis's errors are the harness's (:class:`HarnessError`), its
warnings are sent once each (:class:`HarnessWarning`).
"""

from __future__ import annotations

import random
import time
import traceback
import warnings

from harness.fuzz.events import STAGE_PENDING, STAGE_SHRUNK, HarnessError, HarnessWarning
from harness.fuzz.session import Worker, error_key

__all__ = ["search_hypothesis"]


class _Found(Exception):
    """Raised inside a hypothesis round to make it shrink the current target."""


def _from_hypothesis(w: warnings.WarningMessage) -> bool:
    """A warning about the fuzzing itself (the candidate's and torch's own warnings are not the harness's)."""
    return w.category.__module__.startswith("hypothesis") or "/hypothesis/" in str(w.filename)


def search_hypothesis(worker: Worker) -> None:
    from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings

    config, spec = worker.config, worker.spec
    rng = random.Random(spec.seed)
    warned: set[str] = set()
    while time.time() < worker.search_until:
        state: dict = {"target": None, "best": None, "sent": None, "detected": None, "stop": None}

        def flush() -> None:
            if state["best"] is not None:
                worker.seen.add(state["best"].signature)
                worker.emit(worker.finding(state["best"], STAGE_SHRUNK, state["detected"]))
                state["sent"], state["best"] = state["best"], None

        @settings(max_examples=config.round_size, database=None, deadline=None, phases=[Phase.generate, Phase.shrink],
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False, verbosity=Verbosity.quiet,
                  print_blob=False)
        @seed(rng.getrandbits(64))
        @given(worker.target.strategy)
        def round_(case) -> None:
            now = time.time()
            if state["stop"] and now > state["stop"]:
                flush()  # out of time while shrinking: the best case so far goes out now, hypothesis winds down
                return
            if state["target"] is None and now > worker.search_until:
                return
            report = worker.check(case)
            if report is None:
                return
            worker.tick()
            if not report.failed or report.signature in worker.seen:
                return
            if state["target"] is None and worker.unshrunk(report):
                return
            if state["target"] is None:
                state["target"] = report.signature
                state["detected"] = worker.elapsed()
                state["stop"] = min(spec.end, time.time() + config.shrink_seconds)
                worker.emit(worker.finding(report, STAGE_PENDING, state["detected"]))
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
                    worker.emit(HarnessError(worker.me, error_key(e), traceback.format_exc()))  # we stopped (flaky)
        for w in caught:
            text = f"{w.category.__name__}: {w.message}"
            if _from_hypothesis(w) and text not in warned:
                warned.add(text)
                worker.emit(HarnessWarning(worker.me, text))
        flush()
        if state["sent"] is not None and config.stop_on_new and state["sent"].triage == "new":
            break
