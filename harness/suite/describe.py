"""Plain-words descriptions the suite's reports share: an exception in one line, where outside the harness it was
raised, and the name of an fx node's target."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import torch

__all__ = ["exc_line", "where", "target_name"]

_HARNESS_DIR = str(Path(__file__).resolve().parents[1])


def exc_line(e: BaseException) -> str:
    """``"RuntimeError: <first line of the message, at most 300 characters>"`` (the type alone if it says nothing)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__


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
