"""One fuzz worker: replays its saved cases, then searches until its deadlines; each failure triaged, shrunk and
sent as an event.

The searches are registered by name in :mod:`harness.fuzz.searches`; what they share while they run (the
session: the target, the events out, the signatures seen, the case guard) is :mod:`harness.fuzz.session`. The worker
checks cases with the campaign's :class:`harness.fuzz.target.Target` (by default generated cases,
:func:`harness.check.run.check_case` of the candidate; with ``--quantizer``, the quantizer suite's random-graph
checks). The search draws the target's strategy in one of three ways (``--generation``):

* ``fast`` (the default, :mod:`harness.fuzz.search_fast`): cases drawn straight from a seeded ``Random``
  (:func:`harness.strategies.fast.fast_example`), a failure shrunk by the greedy case reducer
  (:mod:`harness.fuzz.reduce`). A strategy the fast source cannot draw switches the worker to ``hypothesis``, with
  a warning;
* ``hypothesis`` (:mod:`harness.fuzz.search_hypothesis`): rounds of hypothesis, a failure shrunk by hypothesis;
* ``guided`` (:mod:`harness.fuzz.search_guided`): as ``fast``, but the cases that reach new lines of the code under
  test (the quantizer's package, :attr:`harness.fuzz.target.Target.reach`) are kept as seeds and mutated; a target
  that measures no reach is searched as by ``fast``.

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
``KeyboardInterrupt`` and other ``BaseException`` escaping it are a *crash* finding, sent as is (not shrunk).
Before each case the :class:`CaseGuard` is told (the local engine keeps the case, or its number among the fast-drawn
cases, and starts the case's clock), so a process death or a hang is reported by the engine with the case that
caused it. Errors of the harness itself (hypothesis, a checker) are sent as :class:`HarnessError`, hypothesis's
warnings as :class:`HarnessWarning`. Once the target is loaded, what is loaded is frozen out of the cyclic garbage
collector's walks (``gc.freeze``): it lives as long as the worker; while it searches, the collector runs between
cases (:mod:`harness.fuzz.collection`).
"""

from __future__ import annotations

import gc
from typing import Callable, Optional

from harness.fuzz.collection import collecting_between_cases
from harness.fuzz.config import WorkerSpec
from harness.fuzz.events import BadCandidate, Event, Ready
from harness.fuzz.searches import run_search
from harness.fuzz.session import CaseGuard, Worker, error_key  # noqa: F401 - error_key: used by the local engine
from harness.fuzz.target import case_strategy, finding_case, load_target  # noqa: F401 - public here

__all__ = ["run_worker", "CaseGuard", "error_key", "case_strategy", "finding_case"]


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
    # torch, torchao, the strategies, the target: all that is loaded now lives as long as the worker; frozen, the
    # cyclic garbage collector never walks it again (a full collection walked some 320,000 objects)
    gc.freeze()
    worker = Worker(spec, target, emit, guard or CaseGuard())
    with collecting_between_cases():  # harness.fuzz.collection: the collector runs between cases (Worker.check)
        worker.replay()
        run_search(worker, config.generation)
    worker.tick(force=True)
