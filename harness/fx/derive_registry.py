"""The derive functions a case may name, as functions: the built-in ones and the ones opted in by qualified name.

The rule: the built-in functions of :mod:`harness.fx.derive` are named ``harness.derive.NAME``; any other function
is named by its qualified name ``"package.module:qualname"`` and only once it is opted in with :func:`allow` (or
the :func:`allowed` context manager; the pytest plugin's ``--pt2e-allow-derive``). Opting in imports the name (so
a bad name fails there); a case never makes the harness import anything that was not opted in
(:mod:`harness.case.derive_names` checks names while decoding, without torch).

A function defined inside another one (ExecuTorch's Arm quantizers define their bias derive function inside
``QuantizationConfig.get_bias_qspec``) is named through ``<locals>``; as it cannot be imported, it is rebuilt from
its code object, found in the code of the enclosing function, with the enclosing module's globals. That is only
done for a function that closes over no variable; its default values and decorators, which live outside the code
object, are not recovered (a call relying on a default fails with a ``TypeError``). Each call of the enclosing
function makes a new function object with that same code, so :func:`name_of` recognises a function by its code.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import threading
import types
from typing import Any, Callable, Iterator

import torch

from harness.case import derive_names, names
from harness.case.names import UnknownName
from harness.fx import derive
from harness.fx.nodes import ANNOTATION_KEY

__all__ = [
    "BUILTIN",
    "DeriveImportError",
    "qualified_name",
    "import_function",
    "allow",
    "disallow",
    "allowed",
    "opted_in",
    "resolve",
    "name_of",
    "unnamed_derive_functions",
]

# the built-in derive functions by their stored names (harness.derive.NAME)
BUILTIN: dict[str, Callable] = {n: getattr(derive, n.rpartition(".")[2]) for n in names.DERIVE_FN_NAMES}
_BUILTIN_NAMES = {fn: name for name, fn in BUILTIN.items()}

_lock = threading.Lock()
_resolved: dict[str, Callable] = {}  # opted-in name -> its function (kept after opt-out: imports are cached anyway)


class DeriveImportError(ValueError):
    """A qualified name that does not give a usable derive function; the message says why."""


def qualified_name(fn: Any) -> str:
    """``"package.module:qualname"`` of a function (what :func:`allow` takes); for any other callable (a
    ``functools.partial``, an object with ``__call__``) a description that is not a qualified name."""
    if isinstance(fn, (types.FunctionType, types.BuiltinFunctionType)):
        return f"{fn.__module__}:{fn.__qualname__}"
    return f"<a {type(fn).__module__}.{type(fn).__qualname__} object, not a function>"


def _local_function(outer: Any, name: str, qualname: str, where: str) -> Callable:
    """The function ``name`` defined in ``outer``, rebuilt from its code object (see the module docstring)."""
    if not isinstance(outer, types.FunctionType):
        raise DeriveImportError(f"{where}: {qualified_name(outer)} is not a Python function")
    codes = [c for c in outer.__code__.co_consts if isinstance(c, types.CodeType)
             and getattr(c, "co_qualname", c.co_name) == qualname]
    if len(codes) != 1:
        raise DeriveImportError(f"{where}: no function {qualname} is defined in {qualified_name(outer)}")
    code = codes[0]
    if code.co_freevars:
        raise DeriveImportError(f"{where}: {qualname} uses variables of the function around it "
                                f"({', '.join(code.co_freevars)}), so it cannot be rebuilt")
    fn = types.FunctionType(code, outer.__globals__, name)
    fn.__qualname__ = qualname
    return fn


def import_function(name: str) -> Callable:
    """The function a qualified name names, by import (``DeriveImportError`` if there is none)."""
    try:
        derive_names.check_qualified_name(name)
    except ValueError as e:
        raise DeriveImportError(str(e)) from None
    module_name, _, qualname = name.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise DeriveImportError(f"{name}: cannot import {module_name}: {e}") from None
    parts = qualname.split(".")
    i = 0
    while i < len(parts):
        if parts[i] == derive_names.LOCALS:
            obj = _local_function(inspect.unwrap(obj), parts[i + 1], ".".join(parts[:i + 2]), name)
            i += 2
            continue
        try:
            obj = getattr(obj, parts[i])
        except AttributeError:
            raise DeriveImportError(f"{name}: {'.'.join([module_name] + parts[:i])} has no {parts[i]!r}") from None
        i += 1
    if not callable(obj):
        raise DeriveImportError(f"{name}: not callable but a {type(obj).__name__}")
    return obj


def allow(*qualified_names: str) -> None:
    """Opt in derive functions by qualified name: cases may then name them, and :func:`name_of` names them.
    Each name is imported now (``DeriveImportError`` if it does not give a function; nothing is opted in then)."""
    functions = {n: import_function(n) for n in qualified_names}
    with _lock:
        for n, fn in functions.items():
            _resolved.setdefault(n, fn)
            derive_names.opt_in(n)


def disallow(*qualified_names: str) -> None:
    """Undo one :func:`allow` of each name."""
    for n in qualified_names:
        derive_names.opt_out(n)


@contextlib.contextmanager
def allowed(*qualified_names: str) -> Iterator[None]:
    """:func:`allow` the names for the duration of a ``with`` block."""
    allow(*qualified_names)
    try:
        yield
    finally:
        disallow(*qualified_names)


def opted_in() -> tuple[str, ...]:
    """The qualified names opted in now."""
    return derive_names.opted_in()


def resolve(name: str) -> Callable:
    """The derive function a case names: built in, or opted in now (else :class:`UnknownName`)."""
    if isinstance(name, str) and name in BUILTIN:
        return BUILTIN[name]
    with _lock:
        fn = _resolved.get(name) if derive_names.is_allowed(name) else None
    if fn is None:
        raise UnknownName("derive function", name)
    return fn


def _same_function(fn: Any, known: Callable) -> bool:
    if fn is known:
        return True
    code = getattr(fn, "__code__", None)  # a new object made by the same def (a local function)
    return code is not None and code is getattr(known, "__code__", None) and not getattr(fn, "__closure__", None)


def name_of(fn: Any) -> str:
    """The name a case stores for a derive function: built-in or opted-in (else :class:`UnknownName` giving its
    qualified name, the one to opt in)."""
    try:
        return _BUILTIN_NAMES[fn]
    except (KeyError, TypeError):
        pass
    opted = set(derive_names.opted_in())
    with _lock:
        candidates = [(n, f) for n, f in _resolved.items() if n in opted]
    for n, known in candidates:
        if _same_function(fn, known):
            return n
    raise UnknownName("derive function", qualified_name(fn))


def unnamed_derive_functions(gm: torch.fx.GraphModule) -> tuple[str, ...]:
    """The qualified names of the derive functions in ``gm``'s annotations that a case cannot name now (neither
    built in nor opted in), sorted: what to opt in to extract a case from ``gm`` (callables that are not functions
    cannot be opted in and are left out)."""
    found = set()
    for node in gm.graph.nodes:
        qa = node.meta.get(ANNOTATION_KEY)
        if qa is None:
            continue
        for spec in [*getattr(qa, "input_qspec_map", {}).values(), getattr(qa, "output_qspec", None)]:
            fn = getattr(spec, "derive_qparams_fn", None)
            if fn is None:
                continue
            try:
                name_of(fn)
            except UnknownName:
                found.add(qualified_name(fn))
    return tuple(sorted(n for n in found if _is_qualified_name(n)))


def _is_qualified_name(text: str) -> bool:
    try:
        derive_names.check_qualified_name(text)
    except ValueError:
        return False
    return True
