"""The local engine: each worker in its own process, supervised by the driver's process.

Start-up (the rule): workers are forked from a ``forkserver`` that imported torch, torchao and the worker's modules
once (:data:`PRELOAD`), so a worker does not pay those imports again: the first worker waits for the server's
imports, later workers and restarts start in a fraction of that. The server imports with the cyclic garbage collector
off (:mod:`harness.fuzz.collector_off`, a fifth of the imports' time); a forked process freezes what it inherited
and turns it on (:func:`collector_on`). The driver's process itself never imports torch.
Where ``forkserver`` is not available (not POSIX), workers are spawned.

Supervision (the rule): a worker tells the engine, through a shared clock, when a case starts and ends, and first
how to tell that case again: a case the fast search drew is a pure function of the worker's seed and its index
(:func:`harness.fuzz.search_fast.case_source`), so the worker only sets the index, in shared memory; any other case
(replayed, shrunk, guided, drawn by hypothesis) it first writes (atomically) to its own file under the scratch
directory. A case running longer than the case time limit gets its worker killed; a worker process that ends
without its :class:`Done` event (abort, segfault, ``os._exit``) died. Either way the engine sends
:class:`WorkerLost` with the case that was running, read back from that file or drawn again from its index (in a
process forked from the worker's server: :func:`_redraw_main`), and the driver may restart the worker. Workers
ignore SIGINT from their first instruction: Ctrl-C is the driver's, also while it waits for a worker to start (the
server's imports). A worker ends with the driver, also one killed by SIGKILL.

Ending a worker (the rule): at the end of the budget a worker returns from its main after its :class:`Done` event
and its process exits normally; :meth:`LocalEngine.stop` waits for it (``STOP_GRACE`` seconds). A worker still
running then (late, or on Ctrl-C) and a worker whose case overran the time limit are sent SIGTERM first, and
killed (SIGKILL) only if still alive after a grace period. A process that exits normally, or handles SIGTERM,
runs its exit code: coverage.py's multiprocessing support saves the worker's data there (``coverage run -m
harness fuzz``, docs/checks.md "Coverage of torchao's prepare"); a worker killed by SIGKILL (a hung case in C code, a
candidate that ignores SIGTERM) or dead of its own (abort, ``os._exit``) loses its coverage data.

A worker's own output (what the candidate prints, torch's warnings, the trace of a native crash) goes to
``OUT/logs/worker-N.log``, not into the campaign's progress.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import multiprocessing.connection
import os
import queue as queue_module
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from harness.case.encode import case_to_json
from harness.common.atomic import write_atomic
from harness.fuzz.config import WorkerSpec
from harness.fuzz.events import KIND_CRASH, KIND_TIMEOUT, Done, Event, HarnessError, Ready, WorkerLost

STOP_GRACE = 5.0  # seconds the workers have at the end to exit on their own (or on SIGTERM) before SIGKILL
TERM_GRACE = 2.0  # seconds a worker whose case overran the time limit has to die of SIGTERM before SIGKILL


NOT_DRAWN = -1  # the shared index of a case that is not a fast-drawn one: the case is in the worker's file


class _Guard:
    """In the worker: before a case's clock starts, its index (``drawn``) goes to shared memory, or, for a case that
    was not drawn by index, the case goes to ``path`` (atomically)."""

    def __init__(self, clock: Any, drawn: Any, path: str) -> None:
        self.clock, self.drawn, self.path = clock, drawn, path

    def enter(self, case: Any, drawn: Optional[int] = None) -> None:
        if drawn is None:
            write_atomic(self.path, json.dumps(case_to_json(case)).encode("utf-8"), durable=False)
            self.drawn.value = NOT_DRAWN
        else:
            self.drawn.value = drawn
        self.clock.value = time.time()

    def exit(self) -> None:
        self.clock.value = 0.0


def worker_log(out: str, worker: int) -> Path:
    """Where a local worker's own output goes: what the candidate prints, warnings, a native crash's trace."""
    return Path(out) / "logs" / f"worker-{worker}.log"


def _to_log(path: Path) -> None:
    """Send this process's stdout and stderr (the file descriptors: C code's output too) to ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        return  # the campaign's output stays noisy, nothing is lost
    for target in (1, 2):
        os.dup2(fd, target)
    os.close(fd)


def collector_on() -> None:
    """What the server imported (with the collector off, :mod:`harness.fuzz.collector_off`) frozen out of the
    cyclic garbage collector's walks, and the collector on: a process forked from the server collects its own
    garbage."""
    gc.freeze()
    gc.enable()


DRIVER_GONE_GRACE = 2.0  # seconds a worker whose driver is gone has to end on SIGTERM before it exits at once


def _end_with_driver() -> None:
    """A daemon thread that ends this process when the driver's process ends: SIGTERM to itself (a worker's exit
    code runs: coverage.py saves its data), then, if it still runs ``DRIVER_GONE_GRACE`` seconds later (a case hung
    in C code), an immediate exit. A driver that stops normally ends its workers itself; this is for a driver that
    cannot (killed by SIGKILL, or the machine's OOM killer): the workers would otherwise run to the end of the
    budget, and keep the workers' server alive (it lives while any process holds its pipe, the workers too)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(DRIVER_GONE_GRACE)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-driver", daemon=True).start()


def _child_setup(spec: WorkerSpec) -> None:
    """What a process of the engine does first: the collector on (:func:`collector_on`), Ctrl-C is the driver's,
    it ends with the driver (:func:`_end_with_driver`), its output goes to the worker's log."""
    collector_on()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_driver()
    os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")
    _to_log(worker_log(spec.config.out, spec.worker))


def _process_main(spec: WorkerSpec, events: Any, clock: Any, drawn: Any, case_file: str) -> None:
    _child_setup(spec)
    try:
        # imported here, in the worker process: the driver's process never loads torch
        from harness.fuzz.worker import run_worker

        run_worker(spec, events.put, _Guard(clock, drawn, case_file))
    except BaseException as e:  # noqa: BLE001 - tell the driver, never hang it
        events.put(HarnessError(spec.worker, f"{type(e).__name__} in the worker", traceback.format_exc()))
    events.put(Done(spec.worker))


def _redraw_main(spec: WorkerSpec, index: int, answer: Any) -> None:
    """In a process forked from the workers' server: send the case number ``index`` of ``spec``'s worker, drawn
    again, as JSON data (or what went wrong, in words)."""
    _child_setup(spec)
    try:
        from harness.fuzz.search_fast import redraw_data

        answer.send(("case", redraw_data(spec.config, spec.seed, index)))
    except BaseException as e:  # noqa: BLE001 - the engine reports it; never hang it
        answer.send(("error", f"{type(e).__name__}: {e}"))


REDRAW_LIMIT = 30.0  # seconds the engine waits for a lost worker's case to be drawn again (a target to load)


@dataclass
class _Slot:
    spec: WorkerSpec
    process: Any
    clock: Any  # when the running case started (time.time()), 0.0 between cases
    drawn: Any  # the running case's index among the fast-drawn ones, NOT_DRAWN when it is in case_file
    case_file: Path
    ready: bool = False
    finished: bool = False  # done or lost


def _death(exitcode: Optional[int]) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the worker process was killed by {name}"
    return f"the worker process exited with status {exitcode} without finishing (os._exit or exit in C code?)"


def _end(process: Any, grace: float) -> None:
    """End ``process``: SIGTERM, then SIGKILL if it is still alive after ``grace`` seconds; joined."""
    if process.is_alive():
        process.terminate()
        process.join(timeout=grace)
    if process.is_alive():
        process.kill()
    process.join(timeout=5)


# imported once by the forkserver, before any worker is forked from it: the collector turned off for the imports
# (harness.fuzz.collector_off), then torch and torchao (most of a worker's start-up), the worker, the fast search
# and the strategies (the candidate itself is imported by each worker: it is the user's module, and may change
# between runs of a test session)
PRELOAD = ["harness.fuzz.collector_off", "torch", "torchao.quantization.pt2e.prepare", "harness.fuzz.worker",
           "harness.fuzz.search_fast", "harness.strategies"]


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """While inside, SIGINT is ignored by this process (in the main thread; elsewhere nothing changes). A process
    started by ``exec`` meanwhile keeps it ignored from its first instruction (Python leaves an ignored SIGINT
    alone): Ctrl-C in a terminal goes to every process of the group, and is the driver's."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _context() -> Any:
    """The multiprocessing context workers start in: a forkserver preloading :data:`PRELOAD`, else spawn. The
    server is started at once (it imports in the background), so its imports overlap the driver's own start-up
    (loading the saved cases, ...) instead of following it. It is started with SIGINT ignored, which every process
    forked from it inherits (:func:`_sigint_ignored`); only that start, which does not wait for the imports, is
    shielded from Ctrl-C, never the driver's wait for a worker."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        from multiprocessing import forkserver

        with _sigint_ignored():
            forkserver.ensure_running()
        return ctx
    return multiprocessing.get_context("spawn")


def _stop_server() -> None:
    """Stop the workers' server this process started, if it runs (the next start starts a new one). A start the
    driver gave up on (a Ctrl-C while the server imported) is still queued at the server: it would fork a worker
    after the driver has gone, which fails on the driver's vanished queue with a traceback on the terminal."""
    from multiprocessing import forkserver

    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:  # gone already
        pass


class LocalEngine:
    def __init__(self, case_timeout: float, scratch: Path) -> None:
        self._ctx = _context()
        self._queue = self._ctx.Queue()
        self._slots: dict[int, _Slot] = {}
        self._case_timeout = case_timeout
        self._scratch = scratch
        self._logs: dict[int, str] = {}
        self._abandoned = False  # a start was given up while it waited (Ctrl-C): the server may still fork it
        scratch.mkdir(parents=True, exist_ok=True)

    def start(self, spec: WorkerSpec) -> None:
        clock = self._ctx.Value("d", 0.0, lock=False)
        drawn = self._ctx.Value("q", NOT_DRAWN, lock=False)
        case_file = self._scratch / f"worker-{spec.worker}-running.json"
        case_file.unlink(missing_ok=True)
        process = self._ctx.Process(target=_process_main, args=(spec, self._queue, clock, drawn, str(case_file)),
                                    daemon=True)
        try:
            if self._ctx.get_start_method() == "spawn":  # exec'd by this process: it inherits SIGINT ignored
                with _sigint_ignored():
                    process.start()
            else:  # forked from the server, SIGINT ignored already; this start waits for the server's imports,
                # and a Ctrl-C meanwhile is the driver's
                process.start()
        except BaseException:
            self._abandoned = True
            raise
        self._slots[spec.worker] = _Slot(spec, process, clock, drawn, case_file)
        self._logs[spec.worker] = str(worker_log(spec.config.out, spec.worker))

    def exitcode(self, worker: int) -> Optional[int]:
        """The exit status of ``worker``'s (latest) process: None while it runs, negative when a signal ended it."""
        slot = self._slots.get(worker)
        return None if slot is None else slot.process.exitcode

    def placement(self, worker: int) -> str:
        """Every local worker runs on this machine."""
        return "this machine"

    def running(self) -> int:
        return sum(not s.finished for s in self._slots.values())

    def _drain(self, timeout: float) -> list[Event]:
        out: list[Event] = []
        try:
            out.append(self._queue.get(timeout=timeout))
            while True:
                out.append(self._queue.get_nowait())
        except queue_module.Empty:
            pass
        for event in out:
            slot = self._slots.get(event.worker)
            if slot is not None and isinstance(event, Ready):
                slot.ready = True
            if slot is not None and isinstance(event, Done):
                slot.finished = True
        return out

    def case_started(self, worker: int) -> float:
        """When ``worker``'s running case started (``time.time()``), 0.0 when it is between cases."""
        slot = self._slots.get(worker)
        return 0.0 if slot is None else slot.clock.value

    def _redraw(self, spec: WorkerSpec, index: int) -> tuple[Optional[dict], str]:
        """Case number ``index`` of ``spec``'s worker drawn again (:func:`_redraw_main`), or None and why not."""
        receive, send = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(target=_redraw_main, args=(spec, index, send), daemon=True)
        process.start()
        send.close()
        try:
            answer = receive.recv() if receive.poll(REDRAW_LIMIT) else ("error", f"not drawn in {REDRAW_LIMIT:g} s")
        except (EOFError, OSError):
            answer = None
        finally:
            receive.close()
            _end(process, TERM_GRACE)
        if answer is None:
            answer = ("error", f"the process drawing it ended without an answer: {_death(process.exitcode)}")
        kind, value = answer
        if kind == "case":
            return value, ""
        return None, (f"; the case it was checking (number {index} of seed {spec.seed}) could not be drawn again: "
                      f"{value}")

    def _lose(self, worker: int, slot: _Slot, reason: str, detail: str) -> WorkerLost:
        """End ``worker`` and tell what it was checking: the case from its file, or drawn again from its index."""
        running, index = slot.clock.value, slot.drawn.value
        _end(slot.process, TERM_GRACE)
        slot.finished = True
        case, why = None, ""
        if running and index != NOT_DRAWN:
            case, why = self._redraw(slot.spec, index)
        elif running:
            try:
                case = json.loads(slot.case_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                case = None
        return WorkerLost(worker, reason, detail + why, case, slot.ready)

    def events(self, timeout: float) -> list[Event]:
        dead = [w for w, s in self._slots.items() if not s.finished and not s.process.is_alive()]
        out = self._drain(timeout)
        if dead:
            out += self._drain(0.2)  # a worker that exited normally sent Done before it exited
        now = time.time()
        for worker, slot in self._slots.items():
            if slot.finished:
                continue
            started = slot.clock.value
            if started and now - started > self._case_timeout:
                out.append(self._lose(worker, slot, KIND_TIMEOUT,
                                      f"a case ran longer than the case time limit ({self._case_timeout:g} s): "
                                      "the code under test (the candidate, or the quantizer) hangs or is very slow "
                                      "on it; the worker was killed"))
            elif worker in dead:
                out.append(self._lose(worker, slot, KIND_CRASH, _death(slot.process.exitcode)
                                      + f" (its output: {self._logs.get(worker, 'the worker log')})"))
        return out

    def stop(self, grace: float = STOP_GRACE) -> list[Event]:
        """End every worker (see the module docstring) and return the events they sent meanwhile: a worker that
        sent :class:`Done` exits on its own, one still running is sent SIGTERM; after ``grace`` seconds, what is
        still alive is killed. The queue is read while waiting (a process exits only once its queued events are
        out). coverage.py saves a worker's data before the interpreter's teardown, so a worker killed in that
        teardown keeps it."""
        for slot in self._slots.values():
            if not slot.finished and slot.process.is_alive():
                slot.process.terminate()
        out: list[Event] = []
        deadline = time.time() + grace
        try:
            while any(s.process.is_alive() for s in self._slots.values()) and time.time() < deadline:
                out += self._drain_quietly(0.1)
        finally:  # a second Ctrl-C while waiting: killed at once
            for slot in self._slots.values():
                if slot.process.is_alive():
                    slot.process.kill()
                slot.process.join(timeout=5)
                slot.finished = True
            if self._abandoned:
                _stop_server()
        return out + self._drain_quietly(0.05)

    def _drain_quietly(self, timeout: float) -> list[Event]:
        try:
            return self._drain(timeout)
        except (OSError, ValueError, EOFError):
            return []
