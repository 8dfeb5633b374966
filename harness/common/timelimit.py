"""Running third-party code (a quantizer, a prepare under test) with a wall-clock limit.

:func:`call_with_time_limit` runs a function and raises :class:`TimeLimitExceeded` if it has not returned after
``seconds``. In the main thread of a POSIX process it uses ``SIGALRM`` (``setitimer``): the alarm interrupts
sleeps and pure-Python loops, the call unwinds, and nothing is left running. The alarm repeats every
``REARM_SECONDS`` until the call has unwound, so code that swallows one interruption (a bare ``except:``) is
interrupted again; an exception the call raises after an interruption still counts as a timeout. Elsewhere
(another thread, no ``SIGALRM``) the function runs in a daemon thread that is abandoned on timeout after an
asynchronous exception is posted to it; it may keep running in the background.

No limit stops C code that never returns to the interpreter, or a loop that swallows every interruption; such a
hang is a hang of the whole run (run the suite under ``pytest -n`` and a global timeout in CI).
"""

from __future__ import annotations

import ctypes
import signal
import threading
from typing import Any, Callable, TypeVar

__all__ = ["TimeLimitExceeded", "call_with_time_limit", "REARM_SECONDS"]

T = TypeVar("T")
REARM_SECONDS = 0.5


class TimeLimitExceeded(Exception):
    """The call did not return within ``seconds``; ``what`` says which call."""

    def __init__(self, what: str, seconds: float) -> None:
        self.what = what
        self.seconds = seconds
        super().__init__(f"{what} did not return within {seconds:g} s (--pt2e-timeout)")


class _Alarm(BaseException):
    """Raised by the SIGALRM handler inside the limited call (a BaseException, so ``except Exception`` in the
    called code does not swallow it)."""


def _can_use_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def call_with_time_limit(fn: Callable[..., T], seconds: float, *args: Any, what: str = "the call", **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, or :class:`TimeLimitExceeded` after ``seconds`` (``<= 0``: no limit).

    Exceptions raised by ``fn`` propagate unchanged.
    """
    if seconds is None or seconds <= 0:
        return fn(*args, **kwargs)
    if _can_use_alarm():
        return _with_alarm(fn, seconds, what, args, kwargs)
    return _with_thread(fn, seconds, what, args, kwargs)


def _with_alarm(fn: Callable[..., T], seconds: float, what: str, args: tuple, kwargs: dict) -> T:
    state = {"active": True, "fired": False}

    def handler(signum, frame):  # noqa: ARG001
        if state["active"]:
            state["fired"] = True
            raise _Alarm()

    previous_handler = signal.signal(signal.SIGALRM, handler)
    previous_timer = signal.setitimer(signal.ITIMER_REAL, seconds, REARM_SECONDS)
    try:
        value = fn(*args, **kwargs)
        state["active"] = False
        return value
    except BaseException as e:
        state["active"] = False
        if isinstance(e, _Alarm) or state["fired"]:  # also when the call turned the interruption into another error
            raise TimeLimitExceeded(what, seconds) from None
        raise
    finally:
        state["active"] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_timer[0] > 0:  # an enclosing timer (another plugin): give it back what is left of it
            signal.setitimer(signal.ITIMER_REAL, *previous_timer)


def _with_thread(fn: Callable[..., T], seconds: float, what: str, args: tuple, kwargs: dict) -> T:
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            result["error"] = e

    thread = threading.Thread(target=target, name=f"pt2e-limited: {what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_Alarm))
        raise TimeLimitExceeded(what, seconds)
    if "error" in result:
        raise result["error"]
    return result["value"]
