"""The fast search (``--generation fast``, the default): cases drawn straight from a seeded ``Random``, a failure
shrunk by the greedy case reducer.

The rule: cases come from :func:`harness.strategies.fast.fast_example` of the target's strategy (the same strategies
as hypothesis's, without its engine's cost per draw), from ``random.Random(spec.seed)``: the same seed gives the
same cases. A case that fails in a way the worker has not seen is sent at once as a *pending* finding, unless it is
sent as found (:meth:`harness.fuzz.session.Worker.unshrunk`: a known upstream bug, or found late); then
:func:`harness.fuzz.reduce.shrink_case` shrinks it, keeping only edits that fail with the same signature, until a
fixpoint, ``config.shrink_seconds`` or the end of the budget, and the smallest case is sent as the *shrunk* finding.
An exception from the strategies themselves is an error of the harness (sent, counted, the search goes on), as under
hypothesis. Every check while shrinking runs under the case guard, as the search's do, so a hang or a crash of the
candidate on a smaller case is reported with that case. The lines a case reaches, when the target measures them
(:attr:`harness.fuzz.target.Target.reach`), are sent after each case (:meth:`Worker.note_reach`). The guided search
(:mod:`harness.fuzz.search_guided`) draws (:func:`draw`) and handles a failure (:func:`settle`) the same way.
"""

from __future__ import annotations

import logging
import random
import time
import traceback

from harness.fuzz.events import STAGE_PENDING, STAGE_SHRUNK, HarnessError
from harness.fuzz.reduce import shrink_case
from harness.fuzz.session import Worker, error_key
from harness.strategies.fast import FastUnsupported, fast_example

__all__ = ["search_fast", "draw", "settle"]


def search_fast(worker: Worker) -> None:
    """Search until the worker's deadline (:class:`harness.strategies.fast.FastUnsupported` when the target's
    strategy cannot be drawn this way: nothing was checked then)."""
    rng = random.Random(worker.spec.seed)
    while time.time() < worker.search_until:
        case = draw(worker, rng)
        if case is None:
            continue
        report = worker.check(case)
        worker.note_reach()
        if report is None:
            continue
        worker.tick()
        if settle(worker, report):
            break


def draw(worker: Worker, rng: random.Random):
    """A case of the target's strategy drawn from ``rng``; None when the strategy raised (the harness's error,
    sent). :class:`harness.strategies.fast.FastUnsupported` goes through."""
    logging.getLogger("torch._subclasses.fake_tensor").setLevel(logging.CRITICAL)  # edits that do not build: quiet
    try:
        return fast_example(worker.target.strategy, rng)
    except FastUnsupported:
        raise
    except Exception as e:  # noqa: BLE001 - a strategy's bug: the harness's error (counted), the search goes on
        worker.emit(HarnessError(worker.me, error_key(e), traceback.format_exc()))
        return None


def settle(worker: Worker, report) -> bool:
    """What a search does with a checked case's ``report``: a failure in a way the worker has not seen is sent as
    pending, shrunk and sent shrunk (or sent as found, :meth:`Worker.unshrunk`). True when the search must stop
    (``--stop-on-new`` and the failure is new)."""
    if not report.failed or report.signature in worker.seen or worker.unshrunk(report):
        return False
    config, spec = worker.config, worker.spec
    detected = worker.elapsed()
    worker.emit(worker.finding(report, STAGE_PENDING, detected))
    best = _shrunk(worker, report, deadline=min(spec.end, time.time() + config.shrink_seconds))
    worker.seen.add(report.signature)
    worker.emit(worker.finding(best, STAGE_SHRUNK, detected))
    return config.stop_on_new and best.triage == "new"  # not known, not an unjudged disagreement


def _shrunk(worker: Worker, report, deadline: float):
    """The report of the smallest case failing with ``report``'s signature that the reducer reaches by
    ``deadline``."""

    def check(case):  # guarded and counted; what it raises (an edit that does not build...) rejects the edit
        try:
            with worker.guarded(case):
                return worker.target.check(case)
        finally:
            worker.cases += 1
            worker.tick()

    _, last, _ = shrink_case(report.case, check, report.signature, annotations=worker.target.reads_annotations,
                             case_timeout=0.0, deadline=deadline)
    return last.report if last is not None and last.report is not None else report
