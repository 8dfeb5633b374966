"""The fuzz campaign's driver (``python -m harness fuzz``): runs workers on an engine, writes and reports findings.

The driver owns the budget, the files and the verdict. ``--seconds N`` is the wall-clock budget of the whole run,
start-up and shrinking included: each worker, once started, generates cases during 80% of the time left and keeps
the rest for shrinking; all stop at N s; at ``N + min(2, N / 20)`` s the driver stops the workers: a worker that finished is waited for (up
to 5 s) so that its process exits normally (coverage.py saves its data then), one still running is sent SIGTERM,
and what is still alive after that is killed. Workers
(:mod:`harness.fuzz.worker`, run by an engine such as
:class:`harness.fuzz.local.LocalEngine`) send events (:mod:`harness.fuzz.events`); a finding arrives as case data and
the driver writes it: at once to ``OUT/pending/`` when first seen (a finding is never lost, even if the run is
killed while shrinking), then shrunk to ``OUT/`` (atomic, content-named files, one per signature), removing the
pending copy. A worker lost to a hung case (``--case-timeout``) or a dead process is a ``timeout`` or ``crash``
finding with the case it was running, and is restarted while there is time. Errors of the harness itself are
counted and shown once each. The lines of the quantizer's package that the workers' cases reached
(:class:`harness.fuzz.events.Reach`, quantizer campaigns only) are counted as their union, shown in the progress line
and the summary (``quantizer lines reached: N``). Ctrl-C stops the workers and prints the summary so far (from the
first instruction of a run: :mod:`harness.fuzz.launch`). Exit statuses: see
:mod:`harness.fuzz.config`.

The driver never dies on worker data. Each event is handled by the driver's ``on_<kind>`` method
(:func:`harness.fuzz.events.event_kind`); an event of no known kind, case data that does not decode or is too
large, a file that cannot be written (``OSError``), or any other failure to handle an event is a harness error
(exit status 3) and the run goes on to its summary. A finding is kept whatever happens: as a case, else as sent
in ``OUT/raw/`` (:mod:`harness.fuzz.finding_files`), else at least its summary is printed.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

from harness.case import Info
from harness.common.timeline import TimelineWriter
from harness.case.decode import case_from_json
from harness.case.jsonform import CaseFormatError
from harness.fuzz.config import (EXIT_FOUND, EXIT_HARNESS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CampaignConfig,
                                 CampaignResult, Finding, WorkerSpec, count_line, exit_status, finding_groups,
                                 summary_table)
from harness.fuzz.events import (KIND_CRASH, KIND_LOST, KIND_TIMEOUT, STAGE_PENDING, STAGE_SHRUNK, BadCandidate,
                                 Done, Event, FindingEvent, HarnessError, HarnessWarning, Progress, Reach, Ready, ReplayResult,
                                 WorkerLost, event_kind)
from harness.fuzz.finding_files import Kept, keep, saved_cases, where
from harness.fuzz.engine import Engine
from harness.fuzz.terminate import Terminated

__all__ = ["EXIT_OK", "EXIT_FOUND", "EXIT_USAGE", "EXIT_HARNESS", "EXIT_INTERRUPTED", "CampaignConfig",
           "CampaignResult", "Finding", "summary_table", "exit_status", "GENERATE_SHARE"]

GENERATE_SHARE = 0.8  # workers generate cases during this share of their time, then only shrink
RESTART_MARGIN = 5.0  # a lost worker is restarted only if this many seconds of the budget remain


class _Driver:
    def __init__(self, config: CampaignConfig, out, started: Optional[float], load_saved: bool = True) -> None:
        self.config = config
        self.started = started if started is not None else time.time()
        self.seed = config.seed if config.seed is not None else random.SystemRandom().getrandbits(32)
        self.end = self.started + config.seconds
        self.kill_at = self.end + min(2.0, 0.05 * config.seconds)  # the workers' last events are out by then
        self.out = Path(config.out)
        self.cases = 0
        self.findings: dict[str, Finding] = {}
        self.pending: dict[tuple[int, str], tuple[FindingEvent, Kept]] = {}  # the copies as found
        self.errors: dict[str, int] = {}
        self.warnings: set[str] = set()
        self.restarts = 0
        self.workers_lost = 0
        self.by_place: dict[str, int] = {}
        self.reached: Optional[set[str]] = None  # lines of the quantizer's package reached (Reach events), if any
        self.replay_cases = saved_cases(self.out, config.replay, self.say) if load_saved else []
        self.replayed: dict[str, str] = {}
        self.stop_now = False
        self.new_found = False  # with stop_on_new: the run stops once the saved cases are all replayed too
        self.usage_error: Optional[str] = None
        self.engine: Optional[Engine] = None  # set by run()
        self.launched: dict[int, float] = {}  # worker -> when it was (re)started, until it is ready
        self.startups: list[tuple[int, float]] = []
        self.confirming: dict[str, tuple[str, dict]] = {}  # timed-out case's file -> (signature, case data)
        self._stream = out
        self._last_progress = self.started
        self.timeline = TimelineWriter(self.out, f"{config.quantizer or config.candidate}, seed {self.seed}")

    def say(self, text: str, always: bool = False) -> None:
        if always or not self.config.quiet:
            print(text, file=self._stream, flush=True)

    def spec(self, worker: int, first: bool = False, replay: tuple = ()) -> WorkerSpec:
        """The worker's spec; at its first start, its share of the saved cases to replay (round robin), else the
        cases given (a timed-out case to confirm)."""
        replay = tuple(self.replay_cases[worker::self.config.jobs]) if first else replay
        return WorkerSpec(self.config, worker, self.seed + worker + 1000 * self.restarts, self.started, self.end,
                          GENERATE_SHARE, replay)

    # ---- events: one method a kind (harness.fuzz.events.event_kind), on_<kind> ------------------------------

    def handle(self, event: Event) -> None:
        """Handle one event with its ``on_<kind>`` method. Whatever a worker sends, the run goes on: an event of no
        known kind, or one whose handling fails, is a harness error (shown once, no traceback)."""
        method = getattr(self, f"on_{event_kind(event)}", None)
        if method is None:
            self._error(f"unknown event {type(event).__name__}",
                        f"a worker sent {_describe(event)}, which is not an event the driver knows: ignored")
            return
        try:
            method(event)
        except Exception as e:  # noqa: BLE001 - a malformed event, or the disk: the harness's error, not a crash
            self._error(f"the driver failed on a {type(event).__name__} event ({type(e).__name__})",
                        f"the driver could not handle {_describe(event)}: {type(e).__name__}: {e}")

    def on_ready(self, event: Ready) -> None:
        self.by_place.setdefault(self.engine.placement(event.worker), 0)  # listed if no progress comes (--stop-on-new)
        launched = self.launched.pop(event.worker, None)
        if launched is not None:
            self.startups.append((event.worker, round(time.time() - launched, 2)))

    def _start(self, spec: WorkerSpec) -> None:
        self.launched[spec.worker] = time.time()
        self.engine.start(spec)

    def on_done(self, event: Done) -> None:
        pass

    def on_progress(self, event: Progress) -> None:
        self.cases += event.cases
        place = self.engine.placement(event.worker)
        self.by_place[place] = self.by_place.get(place, 0) + event.cases

    def on_reach(self, event: Reach) -> None:
        if self.reached is None:
            self.reached = set()
        self.reached.update(event.lines)

    def on_bad_candidate(self, event: BadCandidate) -> None:
        if self.usage_error is None:
            self.say(event.text if event.text.startswith("--") else f"--candidate: {event.text}",
                     always=True)
        self.usage_error, self.stop_now = event.text, True

    def on_harness_error(self, event: HarnessError) -> None:
        self._error(event.key, event.text)

    def on_harness_warning(self, event: HarnessWarning) -> None:
        if event.text not in self.warnings:
            self.warnings.add(event.text)
            self.say(f"warning (worker {event.worker}): {event.text}")

    def _error(self, key: str, text: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1
        if self.errors[key] == 1:
            self.say(f"\nHARNESS ERROR ({key}):\n{text.rstrip()}", always=True)

    def _keep(self, event: FindingEvent, directory: Path, info: Optional[Info] = None) -> Kept:
        """The finding written (as a case, else raw: :func:`harness.fuzz.finding_files.keep`); each failure on the
        way is a harness error."""
        kept = keep(event, directory, self.out, info)
        for failure in kept.failures:
            self._error(failure.key, failure.text)
        return kept

    def on_finding(self, event: FindingEvent) -> None:
        key = (event.worker, event.found_as or event.signature)  # a shrunk finding's pending signature
        if event.stage == STAGE_PENDING:
            if event.signature not in self.findings:
                kept = self._keep(event, self.out / "pending")
                self.pending[key] = (event, kept)
                label = f"known {event.known_id}" if event.known_id else event.triage
                self.say(f"[{time.time() - self.started:6.1f}s] failing case ({label}): {event.signature[:80]}; "
                         f"shrinking it (copy as found: {where(kept)})")
            return
        found, copy = self.pending.pop(key, (event, Kept(None)))  # the copy as found, if any
        if event.signature not in self.findings:
            kept = self._keep(event, self.out)
            if kept.path is None and copy.path is not None:  # not written: the copy as found is the finding
                self._record(found, copy, shrunk=False)
                return
            self._record(event, kept, shrunk=event.shrunk and event.kind != KIND_CRASH)
        if copy.path is not None:
            copy.path.unlink(missing_ok=True)

    def _record(self, event: FindingEvent, kept: Kept, shrunk: bool) -> None:
        f = Finding(signature=event.signature, known_id=event.known_id, known_title=event.known_title,
                    link=event.link, path=str(kept.path) if kept.path else "(not written)", summary=event.summary,
                    nodes=event.nodes, detected=event.detected, seconds=round(time.time() - self.started, 1),
                    triage=event.triage, kind=event.kind, shrunk=shrunk)
        if f.signature not in self.findings:
            self.timeline.seen(f.detected, f.signature, f.label)
        self.findings[f.signature] = f
        key, same = next((g.key, g.count - 1) for g in finding_groups(list(self.findings.values()))
                         if any(m is f for m in g.members))
        size = f"shrunk to {f.nodes} nodes" if shrunk else f"{f.nodes} nodes, not shrunk"
        self.say(f"\n[{f.seconds:6.1f}s] finding ({f.label}, {f.kind}): {f.signature}\n  group {key} "
                 f"({'a new group' if not same else f'finding {same + 1} of the group'}); first seen at "
                 f"{f.detected:.1f}s, {size}, {where(kept)}\n  " + f.summary.replace("\n", "\n  "),
                 always=kept.path is None)  # on disk nowhere: these words are all that is left of it
        if self.config.stop_on_new and f.is_new:
            self.new_found = True

    def done(self) -> bool:
        """Whether to stop before the budget ends: a usage error, or (``stop_on_new``) a new finding once every
        saved case has been replayed (a fast search finds one before a slower worker has replayed its share)."""
        return self.stop_now or (self.new_found and len(self.replayed) >= len(self.replay_cases))

    def on_replay_result(self, event: ReplayResult) -> None:
        """A saved case replayed: still failing (a finding of this run, its file kept) or fixed (moved from OUT to
        OUT/fixed/, never deleted); or the re-run of a timed-out case (:meth:`_confirm`)."""
        if event.label in self.confirming:
            self._confirmed(event)
            return
        path = Path(event.label)
        if event.failed:
            self.replayed[event.label] = "still failing"
            if event.signature not in self.findings:
                self.findings[event.signature] = Finding(
                    signature=event.signature, known_id=event.known_id, known_title=None, link=None, path=event.label,
                    summary=event.summary, nodes=event.nodes, detected=0.0,
                    seconds=round(time.time() - self.started, 1), triage=event.triage, kind="divergence", shrunk=True)
            self.say(f"[{time.time() - self.started:6.1f}s] replay: still failing: {event.label} ({event.signature[:70]})")
            return
        target = ""
        if path.parent.resolve() == self.out.resolve():
            fixed = self.out / "fixed"
            fixed.mkdir(parents=True, exist_ok=True)
            target = str(fixed / path.name)
            path.replace(target)
        self.replayed[event.label] = f"fixed{' -> ' + target if target else ''}"
        self.say(f"[{time.time() - self.started:6.1f}s] replay: fixed: {event.label}"
                 + (f" (moved to {target})" if target else ""))

    def _confirmed(self, event: ReplayResult) -> None:
        """The re-run of a timed-out case ended within the time limit: the timeout is not reproduced (``flaky``),
        unless the case failed otherwise."""
        signature, _ = self.confirming.pop(event.label)
        f = self.findings.get(signature)
        if f is None:
            return
        if event.failed:
            note = f"re-run in a fresh worker, it finished in time but failed otherwise ({event.signature[:80]})"
            self.findings[signature] = replace(f, summary=f"{f.summary}\n{note}")
        else:
            note = ("re-run in a fresh worker, it finished within the case time limit: the timeout is not "
                    "reproduced (a busy machine, or a rare hang)")
            self.findings[signature] = replace(f, triage="flaky", summary=f"{f.summary}\n{note}")
        self.say(f"[{time.time() - self.started:6.1f}s] {signature}: {note}", always=True)

    def _confirm(self, worker: int, signature: str, path: Optional[Path], case: dict) -> tuple:
        """What a restarted worker replays first: the timed-out case (from its file), to see whether it hangs
        again; nothing when it was not written."""
        if path is None:
            return ()
        self.confirming[str(path)] = (signature, case)
        self.say(f"[{time.time() - self.started:6.1f}s] re-running the timed-out case in the restarted worker "
                 f"{worker} to confirm it", always=True)
        return ((str(path), case),)

    def on_worker_lost(self, event: WorkerLost) -> None:
        replay: tuple = ()
        if event.reason == KIND_LOST:  # the node or actor went away, not the candidate's doing: restart
            self.workers_lost += 1
            self.say(f"[{time.time() - self.started:6.1f}s] worker {event.worker} lost: {event.detail}", always=True)
        elif not event.ready:
            self._error(f"worker lost during start-up: {event.detail}",
                        f"worker {event.worker} was lost before it checked any case: {event.detail}")
            return
        elif event.case is None:
            self._error(f"worker lost with no case to report: {event.detail}",
                        f"worker {event.worker} was lost with no case to report (none was being checked, or the "
                        f"engine could not tell which): {event.detail}")
        else:
            self.cases += 1
            signature = event.reason if event.reason != KIND_CRASH else f"crash: {event.detail.split(' (')[0]}"
            again = next((label for label, (sig, case) in self.confirming.items()
                          if sig == signature and case == event.case), None)
            if again is not None:  # the re-run of a timed-out case timed out too: confirmed, it stays NEW
                del self.confirming[again]
                self.say(f"[{time.time() - self.started:6.1f}s] {signature}: the re-run timed out again: confirmed",
                         always=True)
            elif signature not in self.findings:
                text = f"{event.detail}. The case being checked is saved as is (not shrunk)."
                found = FindingEvent(worker=event.worker, stage=STAGE_SHRUNK, kind=event.reason, signature=signature,
                                     triage="new", known_id=None, known_title=None, link=None, summary=text,
                                     nodes=_nodes(event.case), detected=round(time.time() - self.started, 1),
                                     case=event.case, shrunk=False)
                # info.upstream stays empty: torchao was not run on the case (harness.check.run.upstream_state)
                info = Info(title=signature, kind="finding", notes=text, tags=("finding", event.reason))
                kept = self._keep(found, self.out, info)
                self._record(found, kept, shrunk=False)
                if event.reason == KIND_TIMEOUT and time.time() < self.end - RESTART_MARGIN and not self.done():
                    replay = self._confirm(event.worker, signature, None if kept.raw else kept.path, event.case)
        if time.time() < self.end - RESTART_MARGIN and not self.done():
            self.restarts += 1
            self.say(f"[{time.time() - self.started:6.1f}s] restarting worker {event.worker}")
            self._start(self.spec(event.worker, replay=replay))

    # ---- the run ----------------------------------------------------------------------------------------------

    def progress(self, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last_progress < 5.0:
            return
        self._last_progress = now
        elapsed = now - self.started
        reached = "" if self.reached is None else f", quantizer lines reached: {len(self.reached)}"
        groups = finding_groups(list(self.findings.values()))
        self.timeline.tick(elapsed, self.cases, None if self.reached is None else len(self.reached), len(groups),
                           len(self.findings))
        self.say(f"[{elapsed:6.1f}s] {self.cases} cases, {self.cases / max(elapsed, 1e-9):.1f} cases/s{reached}, "
                 f"findings: {count_line(groups)}")

    def unfinished(self) -> None:
        """Findings still being shrunk when the run ended: reported as found (their pending file stays)."""
        for (worker, signature), (event, kept) in self.pending.items():
            if signature not in self.findings:
                self._record(event, kept, shrunk=False)

    def run(self, engine: Optional[Engine], interrupted: Optional[KeyboardInterrupt] = None) -> CampaignResult:
        """Start the workers, handle their events until the end, stop them. ``interrupted``: a Ctrl-C or SIGTERM
        that came before (:mod:`harness.fuzz.launch`): no worker is started, and the run ends as interrupted
        (``engine`` may then be None: it was not made)."""
        self.engine = engine
        try:
            if interrupted is not None:
                raise interrupted
            for worker in range(self.config.jobs):
                self._start(self.spec(worker, first=True))
            while engine.running() and time.time() < self.kill_at and not self.done():
                for event in engine.events(timeout=0.5):
                    self.handle(event)
                self.progress()
        except KeyboardInterrupt as e:
            interrupted = e
            why = "SIGTERM" if isinstance(e, Terminated) else "Ctrl-C"
            self.say(f"\ninterrupted ({why}): stopping the workers", always=True)
        except Exception as e:  # noqa: BLE001 - the engine failed (a cluster gone): the summary still comes
            self._error(f"engine: {type(e).__name__}", f"the engine failed while the workers ran: "
                        f"{type(e).__name__}: {e}")
        try:
            for event in engine.stop() if engine is not None else []:
                if not isinstance(event, WorkerLost):
                    self.handle(event)
        except KeyboardInterrupt as e:
            interrupted = e
        except Exception as e:  # noqa: BLE001 - as above, while stopping
            self._error(f"engine stop: {type(e).__name__}", f"the engine failed while stopping the workers: "
                        f"{type(e).__name__}: {e}")
        self.unfinished()
        if not self.cases and not self.findings and interrupted is None and not self.errors and not self.usage_error:
            self._error("no case was checked", f"no case was checked within the budget of {self.config.seconds:g} s "
                        f"(start-up took it, or a first case still ran under the {self.config.case_timeout:g} s limit)")
        self.progress(force=True)
        return CampaignResult(self.cases, time.time() - self.started, list(self.findings.values()),
                              dict(self.errors), interrupted is not None, self.usage_error, dict(self.by_place),
                              dict(self.replayed), self.workers_lost, list(self.startups),
                              None if self.reached is None else frozenset(self.reached))


def _describe(event: Any) -> str:
    """A short description of what a worker sent, for a harness error."""
    try:
        text = repr(event)
    except Exception:  # noqa: BLE001 - a repr that fails still names the type
        text = f"<{type(event).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."


def _nodes(data: Any) -> int:
    """The number of nodes of the case in ``data``, 0 when it does not decode."""
    try:
        return len(case_from_json(data).graph.nodes)
    except CaseFormatError:
        return 0
