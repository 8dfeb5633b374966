"""The engine interface: how the driver runs workers, wherever they run (local processes today, a cluster later).

An engine starts workers from a :class:`harness.fuzz.config.WorkerSpec`, hands the driver their events (and
:class:`harness.fuzz.events.WorkerLost` for a worker that hung past the case time limit or died: it then stops
that worker for good), restarts a lost worker with a new spec, and stops everything. The driver owns the files;
an engine writes nothing the driver needs (the local engine keeps its own crash-safety copy of the running case).
The campaign's driver takes an :class:`Engine` (:class:`harness.fuzz.local.LocalEngine`,
:class:`harness.fuzz.ray_engine.RayEngine`, or a scripted one in the tests).
"""

from __future__ import annotations

from typing import Protocol

from harness.fuzz.events import Event
from harness.fuzz.config import WorkerSpec


class Engine(Protocol):
    def start(self, spec: WorkerSpec) -> None:
        """Start the worker ``spec.worker`` (also used to restart it after a WorkerLost)."""

    def events(self, timeout: float) -> list[Event]:
        """The events that arrived, waiting up to ``timeout`` seconds for the first; includes WorkerLost."""

    def running(self) -> int:
        """How many workers are neither done nor lost."""

    def stop(self) -> list[Event]:
        """Stop every worker (see the engine's own rule for how); the events still in flight."""

    def placement(self, worker: int) -> str:
        """Where ``worker`` runs, in words (the summary counts the cases of each place)."""
