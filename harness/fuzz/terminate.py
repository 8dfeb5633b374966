"""A ``SIGTERM`` to the campaign's driver ends the run the way Ctrl-C does (the rule): the workers are stopped, the
findings so far are reported, the summary is printed and the exit status is 130 (interrupted).

Without this, ``SIGTERM``'s default action ended the driver at once, with no summary and no exit status of the
campaign's own, and left the workers it had started (children of the workers' server, not of the driver) running
until the end of the budget. A job scheduler, ``timeout`` and container runtimes stop a process with ``SIGTERM``.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

__all__ = ["Terminated", "sigterm_interrupts"]


class Terminated(KeyboardInterrupt):
    """The driver received ``SIGTERM``: handled wherever Ctrl-C is."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While inside, ``SIGTERM`` raises :class:`Terminated` in the main thread (elsewhere, where Python lets no
    handler be installed, nothing changes); the previous handler is put back on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
