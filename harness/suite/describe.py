"""Plain-words descriptions the suite's reports share: an exception in one line, where outside the harness it was
raised, and the name of an fx node's target."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import torch

__all__ = ["exc_line", "where", "target_name", "root_cause", "is_refusal", "REFUSED"]

REFUSED = "REFUSED"  # how a deliberate refusal of the quantizer ("X is not supported") is named in a problem
_REFUSAL_WORDS = ("not supported", "unsupported", "is not implemented")

_HARNESS_DIR = str(Path(__file__).resolve().parents[1])


def exc_line(e: BaseException) -> str:
    """``"RuntimeError: <first line of the message, at most 300 characters>"`` (the type alone if it says nothing)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__


def root_cause(e: BaseException) -> BaseException:
    """The exception at the end of ``e``'s chain of causes (``raise ... from``, else the one being handled): a pass
    manager that wraps "Argmax is not supported" in a bare ``Exception("An error occurred ...")`` is read through."""
    seen = {id(e)}
    while True:
        nxt = e.__cause__ if e.__cause__ is not None else (None if e.__suppress_context__ else e.__context__)
        if nxt is None or id(nxt) in seen:
            return e
        seen.add(id(nxt))
        e = nxt


def is_refusal(e: BaseException) -> bool:
    """Whether ``e`` (or its root cause) is a deliberate refusal of an op or pattern: its message says it is not
    supported. A refusal is not a bug of the quantizer; a crash (an ``IndexError``, an assertion) is."""
    return any(word in str(x).lower() for x in (e, root_cause(e)) for word in _REFUSAL_WORDS)


def where(e: BaseException, limit: int = 3) -> str:
    """The innermost frames of ``e``'s traceback outside the harness (where the quantizer failed), one per line."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not str(Path(f.filename).resolve()).startswith(_HARNESS_DIR)][-limit:]
    return "\n".join(f"    {Path(f.filename).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}" for f in frames)


def target_name(target: Any) -> str:
    """``"aten.linear.default"`` for an op overload, the qualified name of a function, a string as it is."""
    if isinstance(target, str):
        return target
    if isinstance(target, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
        return str(target)
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if name is None:
        return str(target)
    return f"{module}.{name}" if module and module not in ("builtins", "_operator") else name
