"""The fast search (``--generation fast``, the default): cases drawn straight from a seeded ``Random``, a failure
shrunk by the greedy case reducer.

The rule: cases come from :func:`harness.strategies.fast.fast_example` of the target's strategy (the same strategies
as hypothesis's, without its engine's cost per draw). Case number ``i`` of a worker is drawn from its own source,
:func:`case_source` of ``(spec.seed, i)``, so it is a pure function of the worker's seed and its index: the same seed
gives the same cases, and the case guard is told only the index (``drawn``), not the case. The engine keeps that
index instead of writing every case, and after a hang or a death draws the case again (:func:`redraw`, in a process
forked from the same server as the worker, so the same hash seed and the same modules; the string seed makes the
stream the same whatever the hash seed anyway). A case that fails in a way the worker has not seen is sent at once
as a *pending* finding, unless it is sent as found (:meth:`harness.fuzz.session.Worker.unshrunk`: a known upstream
bug, or found late); then :func:`harness.fuzz.reduce.shrink_case` shrinks it, keeping only edits that fail with
the same signature, until a fixpoint, ``config.shrink_seconds`` or the end of the budget, and the smallest case is
sent as the *shrunk* finding.
An exception from the strategies themselves is an error of the harness (sent, counted, the search goes on), as under
hypothesis. Every check while shrinking runs under the case guard, as the search's do, so a hang or a crash of the
candidate on a smaller case is reported with that case. The lines a case reaches, when the target measures them
(:attr:`harness.fuzz.target.Target.reach`), are sent after each case (:meth:`Worker.note_reach`). The guided search
(:mod:`harness.fuzz.search_guided`) draws (:func:`draw`) and handles a failure (:func:`settle`) the same way.
"""

from __future__ import annotations

import json
import logging
import random
import time
import traceback
from itertools import count

from harness.case import Case
from harness.case.encode import case_to_json
from harness.fuzz.events import STAGE_PENDING, STAGE_SHRUNK, HarnessError
from harness.fuzz.reduce import shrink_case
from harness.fuzz.session import Worker, error_key
from harness.fuzz.target import load_target
from harness.strategies.fast import FastUnsupported, fast_example

__all__ = ["search_fast", "draw", "settle", "case_source", "redraw", "redraw_data"]

# shapes an edit or a case does not build with are logged by the fake-tensor code: quiet, once per process
_FAKE_TENSOR_LOG = logging.getLogger("torch._subclasses.fake_tensor")


def case_source(seed: int, index: int) -> random.Random:
    """The random source of case number ``index`` of the worker whose seed is ``seed`` (a string seed: the same
    stream in every process, whatever its hash seed)."""
    return random.Random(f"fast:{seed}:{index}")


def redraw(config, seed: int, index: int) -> Case:
    """Case number ``index`` of the worker of ``config`` whose seed is ``seed``, drawn again."""
    return fast_example(load_target(config).strategy, case_source(seed, index))


def redraw_data(config, seed: int, index: int) -> dict:
    """:func:`redraw` as JSON data, as a case file holds it (lists, not tuples)."""
    return json.loads(json.dumps(case_to_json(redraw(config, seed, index))))


def search_fast(worker: Worker) -> None:
    """Search until the worker's deadline (:class:`harness.strategies.fast.FastUnsupported` when the target's
    strategy cannot be drawn this way: nothing was checked then)."""
    for index in count():
        if time.time() >= worker.search_until:
            break
        case = draw(worker, case_source(worker.spec.seed, index))
        if case is None:
            continue
        report = worker.check(case, drawn=index)
        worker.note_reach()
        if report is None:
            continue
        worker.tick()
        if settle(worker, report):
            break


def draw(worker: Worker, rng: random.Random):
    """A case of the target's strategy drawn from ``rng``; None when the strategy raised (the harness's error,
    sent). :class:`harness.strategies.fast.FastUnsupported` goes through."""
    if _FAKE_TENSOR_LOG.level != logging.CRITICAL:  # setLevel clears every logger's cache: not once a case
        _FAKE_TENSOR_LOG.setLevel(logging.CRITICAL)
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
    worker.seen.update((report.signature, best.signature))  # two when unmasked (harness.check.masked)
    worker.emit(worker.finding(best, STAGE_SHRUNK, detected, found_as=report.signature))
    return config.stop_on_new and best.triage == "new"  # not known, not an unjudged disagreement


def _shrunk(worker: Worker, report, deadline: float):
    """The report of the smallest case failing with ``report``'s signature that the reducer reaches by
    ``deadline`` (or with the signature of the same failure unmasked, :mod:`harness.check.masked`)."""

    def check(case):  # guarded and counted; what it raises (an edit that does not build...) rejects the edit
        try:
            with worker.guarded(case):
                return worker.target.check(case)
        finally:
            worker.cases += 1
            worker.tick()

    _, last, _ = shrink_case(report.case, check, report.signature, annotations=worker.target.reads_annotations,
                             case_timeout=0.0, deadline=deadline, unmasks=worker.target.unmasks)
    return last.report if last is not None and last.report is not None else report
