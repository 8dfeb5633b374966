"""The Ray engine: the campaign's workers as Ray actors, on every node of a Ray cluster.

The rule: each worker is one actor (one CPU), placed by Ray (``SPREAD``, so workers go to every node). Inside, the
actor runs the same supervision as the local engine (:class:`harness.fuzz.local.LocalEngine` with that one
worker): the candidate runs in a child process on the actor's node, the running case is kept on that node before
the candidate sees it (its number among the fast-drawn cases, or the case on the node's disk), and a case over the
time limit or a child that dies is reported as
:class:`~harness.fuzz.events.WorkerLost` with that case. The actor sends the events back as data; a finding is
case data, so the driver (on its own machine) writes every file, and the nodes share no filesystem with it.

An actor that dies itself (its node lost, the actor killed) is a :class:`~harness.fuzz.events.WorkerLost` of
kind ``lost`` (the infrastructure's failure, not the candidate's: no finding); the driver restarts the worker and a new actor is placed, the run goes on. Findings
already sent are safe with the driver.

``address``: ``None`` starts a local Ray instance (the embedded default); ``"auto"``, ``"HOST:PORT"`` or
``"ray://HOST:10001"`` connect to a running cluster, whose nodes must have this project installed (the same
environment as the driver). Ray is an optional extra: ``pip install -e '.[ray]'``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import ray
from ray.exceptions import RayActorError, RayError

from harness.fuzz.config import WorkerSpec
from harness.fuzz.events import KIND_LOST, Done, Event, WorkerLost


@ray.remote(num_cpus=1, max_restarts=0, max_concurrency=1)
class NodeWorker:
    """One campaign worker on some node: a local engine with that one worker, polled by the driver."""

    def __init__(self, case_timeout: float) -> None:
        import os

        os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")
        # imported in the actor: the local engine and its worker run on the actor's node
        from harness.fuzz.local import LocalEngine

        self._engine = LocalEngine(case_timeout, Path(tempfile.mkdtemp(prefix="pt2e-fuzz-ray-")))

    def placement(self) -> str:
        context = ray.get_runtime_context()
        return f"{ray.util.get_node_ip_address()} (node {context.get_node_id()[:8]})"

    def start(self, spec: WorkerSpec) -> None:
        self._engine.start(spec)

    def poll(self, timeout: float) -> list[Event]:
        return self._engine.events(timeout)

    def stop(self) -> list[Event]:
        return self._engine.stop()


@dataclass
class _Worker:
    actor: Any
    placement: Any  # where it runs, or the ObjectRef of that answer until asked
    pending: Optional[Any] = None  # the ObjectRef of the poll in flight
    finished: bool = False


def connect(address: Optional[str], jobs: Optional[int] = None) -> int:
    """Join the cluster at ``address`` (or start a local instance); the number of CPUs of the cluster."""
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address is None:
            kwargs.update(include_dashboard=False)
            if jobs is not None:
                kwargs["num_cpus"] = jobs
        ray.init(address=address, **kwargs)
    return int(ray.cluster_resources().get("CPU", 1))


class RayEngine:
    """The :class:`harness.fuzz.engine.Engine` on Ray (see the module docstring)."""

    def __init__(self, case_timeout: float, poll_seconds: float = 0.5) -> None:
        if not ray.is_initialized():
            raise RuntimeError("RayEngine needs ray.init() first (harness.fuzz.ray_engine.connect)")
        self._case_timeout = case_timeout
        self._poll_seconds = poll_seconds
        self._workers: dict[int, _Worker] = {}

    def placement(self, worker: int) -> str:
        """Where ``worker`` runs (node address and id), for the per-node summary."""
        w = self._workers.get(worker)
        if w is None:
            return "?"
        if not isinstance(w.placement, str):
            try:
                w.placement = ray.get(w.placement, timeout=30)
            except (RayError, TimeoutError):
                w.placement = "a lost node"
        return w.placement

    def start(self, spec: WorkerSpec) -> None:
        """Start (or restart) a worker without waiting for its actor: Ray queues the calls in order."""
        old = self._workers.get(spec.worker)
        if old is not None and old.actor is not None and old.pending is None and not _dead(old.actor):
            actor, placement = old.actor, old.placement  # the actor lost its child process only: reuse it
        else:
            actor = NodeWorker.options(scheduling_strategy="SPREAD").remote(self._case_timeout)
            placement = actor.placement.remote()
        actor.start.remote(spec)
        self._workers[spec.worker] = _Worker(actor, placement)

    def running(self) -> int:
        return sum(not w.finished for w in self._workers.values())

    def events(self, timeout: float) -> list[Event]:
        live = {i: w for i, w in self._workers.items() if not w.finished}
        for w in live.values():
            if w.pending is None:
                w.pending = w.actor.poll.remote(min(timeout, self._poll_seconds))
        if not live:
            return []
        refs = {w.pending: i for i, w in live.items()}
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=timeout + self._poll_seconds + 5)
        if ready:  # take whatever else is ready too
            ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0)
        out: list[Event] = []
        for ref in ready:
            worker = refs[ref]
            w = self._workers[worker]
            w.pending = None
            try:
                events = ray.get(ref)
            except RayError as e:
                w.finished, w.actor = True, None
                out.append(WorkerLost(worker, KIND_LOST, f"the Ray worker on {self.placement(worker)} died: "
                                      f"{type(e).__name__}: {_first_line(e)}", None, True))
                continue
            for event in events:
                if isinstance(event, (Done, WorkerLost)):
                    w.finished = True
            out.extend(events)
        return out

    def stop(self) -> list[Event]:
        out: list[Event] = []
        for w in self._workers.values():
            if w.actor is None:
                continue
            try:
                if w.pending is not None:
                    ray.get(w.pending, timeout=self._poll_seconds + 5)
                out.extend(ray.get(w.actor.stop.remote(), timeout=30))
            except (RayError, TimeoutError):
                pass
            ray.kill(w.actor)
            w.finished, w.actor, w.pending = True, None, None
        return out


def _dead(actor: Any) -> bool:
    try:
        ray.get(actor.placement.remote(), timeout=10)
        return False
    except (RayActorError, RayError, TimeoutError):
        return True


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else ""
