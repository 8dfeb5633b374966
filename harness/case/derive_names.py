"""Which derive-function names a case may hold: the built-in ones, and the ones opted in for this process.

The rule: a case names its ``DerivedQuantizationSpec.derive_qparams_fn`` by a qualified name. The built-in names
(``harness.derive.NAME``, :data:`harness.case.names.DERIVE_FN_NAMES`) are always allowed. Any other function is
allowed only after an explicit opt-in with its qualified name ``"package.module:qualname"`` (the ``qualname`` may
go through ``<locals>``, for a function defined inside another one); reading a case never imports a name that was
not opted in. The opt-ins are counted (nested opt-ins of one name need as many opt-outs). This module holds names
only and imports nothing: :mod:`harness.fx.derive_registry` resolves them (by import) and is the API to use.
"""

from __future__ import annotations

import keyword
import threading
from collections import Counter

from harness.case.names import DERIVE_FN_NAMES

__all__ = ["LOCALS", "check_qualified_name", "opt_in", "opt_out", "opted_in", "is_allowed", "unknown_message"]

LOCALS = "<locals>"
_lock = threading.Lock()
_opted: Counter = Counter()


def _identifier(part: str) -> bool:
    return part.isidentifier() and not keyword.iskeyword(part)


def check_qualified_name(name: object) -> str:
    """``name`` if it is ``"package.module:qualname"`` (dotted identifiers; ``<locals>`` only between two parts of
    the qualname), else ``ValueError`` saying what is wrong."""
    if not isinstance(name, str):
        raise ValueError(f"a derive function is named by a string 'package.module:function', got {name!r}")
    module, sep, qualname = name.partition(":")
    if not sep or ":" in qualname:
        raise ValueError(f"{name!r}: expected 'package.module:function' (one ':' between module and function)")
    if not module or not all(_identifier(p) for p in module.split(".")):
        raise ValueError(f"{name!r}: {module!r} is not a dotted module name")
    parts = qualname.split(".")
    for i, part in enumerate(parts):
        if part == LOCALS:
            if i == 0 or i == len(parts) - 1 or parts[i - 1] == LOCALS:
                raise ValueError(f"{name!r}: {LOCALS} must stand between a function and a name defined in it")
        elif not _identifier(part):
            raise ValueError(f"{name!r}: {qualname!r} is not a qualified function name")
    return name


def opt_in(name: str) -> None:
    """Allow cases to name ``name`` (checked with :func:`check_qualified_name`; resolving it is the caller's job)."""
    check_qualified_name(name)
    with _lock:
        _opted[name] += 1


def opt_out(name: str) -> None:
    """Undo one :func:`opt_in` of ``name`` (nothing happens if it is not opted in)."""
    with _lock:
        if _opted[name] > 1:
            _opted[name] -= 1
        else:
            _opted.pop(name, None)


def opted_in() -> tuple[str, ...]:
    """The names opted in now, sorted."""
    with _lock:
        return tuple(sorted(_opted))


def is_allowed(name: object) -> bool:
    """True for a built-in derive-function name and for a name opted in now."""
    if not isinstance(name, str):
        return False
    with _lock:
        return name in DERIVE_FN_NAMES or name in _opted


def unknown_message(name: str) -> str:
    """The error text for a derive function that is neither built in nor opted in, saying how to opt in."""
    text = repr(name) if len(name) <= 200 else repr(name[:197] + "...")
    hint = ""
    try:
        check_qualified_name(name)
        hint = (f"; to allow it, pass --pt2e-allow-derive={name} (pytest) or call "
                f"harness.fx.derive_registry.allow({name!r})")
    except ValueError:
        pass
    return f"unknown derive function {text} (not built in, not opted in){hint}"
