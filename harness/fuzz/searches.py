"""The searches a worker can run, registered by name (``--generation NAME``), behind the :class:`Search` Protocol.

The rule: a search is a function of the worker's session (:class:`harness.fuzz.session.Worker`) that checks cases
until the worker's deadlines, sending what it finds through the session. Each :class:`SearchSpec` names the search,
how to load it (a ``module:function`` string, imported only when it runs, so a worker loads one engine), and,
optionally, the exception that means "this search cannot draw this target's cases" with the search to go on with
instead. Adding a search is one entry here and its module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Optional, Protocol

from harness.fuzz.events import HarnessWarning
from harness.fuzz.session import Worker

__all__ = ["Search", "SearchSpec", "SEARCHES", "run_search"]


class Search(Protocol):
    def __call__(self, worker: Worker) -> None:
        """Check cases until ``worker``'s deadlines (findings, progress and errors go out through ``worker``)."""


@dataclass(frozen=True)
class SearchSpec:
    name: str
    function: str  # "module:function" of the Search
    description: str
    unsupported: Optional[str] = None  # "module:ExceptionClass" raised when the target's cases cannot be drawn
    fallback: Optional[str] = None  # the search to go on with then

    def load(self) -> Search:
        module, _, name = self.function.partition(":")
        return getattr(importlib.import_module(module), name)

    def unsupported_error(self) -> tuple[type[BaseException], ...]:
        if self.unsupported is None:
            return ()
        module, _, name = self.unsupported.partition(":")
        return (getattr(importlib.import_module(module), name),)


SEARCHES: dict[str, SearchSpec] = {spec.name: spec for spec in (
    SearchSpec("fast", "harness.fuzz.search_fast:search_fast",
               "our strategies drawn from a seeded random source, failures shrunk by the greedy case reducer",
               unsupported="harness.strategies.fast:FastUnsupported", fallback="hypothesis"),
    SearchSpec("hypothesis", "harness.fuzz.search_hypothesis:search_hypothesis",
               "hypothesis's engine draws and shrinks"),
    SearchSpec("guided", "harness.fuzz.search_guided:search_guided",
               "coverage-guided: cases reaching new lines of the quantizer are kept and mutated (a uniform share "
               "stays), failures shrunk as by fast",
               unsupported="harness.strategies.fast:FastUnsupported", fallback="hypothesis"),
)}


def run_search(worker: Worker, name: str) -> None:
    """Run the search ``name``; when it cannot draw the target's cases, warn and go on with its fallback."""
    spec = SEARCHES[name]
    try:
        spec.load()(worker)
    except spec.unsupported_error() as e:
        if spec.fallback is None:
            raise
        worker.emit(HarnessWarning(worker.me, f"--generation {name} cannot draw this target's cases ({e}); this "
                                   f"worker goes on with --generation {spec.fallback}"))
        run_search(worker, spec.fallback)
