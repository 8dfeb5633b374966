"""The allow-lists that connect case names to torch objects, in one place.

A case (``harness.case``) names everything: ops (``"aten.conv2d.default"``), observer constructors
(``Ctor("torchao.quantization.pt2e.observer.MinMaxObserver", ...)``), derive functions, dtypes, qschemes
and other torch constants. Only names listed here resolve (and derive functions opted in by qualified name,
:mod:`harness.fx.derive_registry`); anything else raises :class:`UnknownName`. This is what makes loading a corpus
file safe: a case can never name arbitrary code.
"""

from __future__ import annotations

import importlib
import math
import operator
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import torch
from torchao.quantization.pt2e.observer import PartialWrapper

from harness.case import Const, Ctor, names
from harness.case.names import GETITEM, UnknownName
from harness.fx import derive_registry

__all__ = [
    "UnknownName",
    "UnsupportedCtor",
    "OpInfo",
    "OPS",
    "GETITEM",
    "op_info",
    "resolve_op",
    "op_name",
    "CTORS",
    "resolve_ctor",
    "ctor_of",
    "DTYPES",
    "QSCHEMES",
    "resolve_dtype",
    "dtype_name",
    "resolve_qscheme",
    "qscheme_name",
    "CONST_KINDS",
    "resolve_const",
    "const_of",
    "DERIVE_FNS",
    "resolve_derive_fn",
    "derive_fn_name",
]


class UnsupportedCtor(ValueError):
    """An observer constructor that cannot be written as a :class:`~harness.case.Ctor`."""


# ---- ops ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpInfo:
    """What the harness needs to know about an allowed op, read from its schema.

    ``n_returns`` is the number of schema returns (``split`` has 1, a ``Tensor[]``); ``returns_list`` says the
    single return is a list of tensors; ``mutated_args`` are the positions of arguments the op writes.
    """

    name: str
    n_returns: int
    returns_list: bool
    mutated_args: tuple[int, ...]

    @property
    def multi_output(self) -> bool:
        """True if the op's value is a tuple/list of tensors (consumers read it with ``getitem``)."""
        return self.n_returns > 1 or self.returns_list

    @property
    def inplace(self) -> bool:
        """True if the op writes its first argument (``relu_``, ``copy_``, ``index_put_``...)."""
        return 0 in self.mutated_args


def _overload(name: str) -> torch._ops.OpOverload:
    namespace, packet, overload = name.split(".")
    return getattr(getattr(getattr(torch.ops, namespace), packet), overload)


def _info_of(name: str, overload: torch._ops.OpOverload) -> OpInfo:
    schema = overload._schema
    returns = schema.returns
    returns_list = len(returns) == 1 and str(returns[0].type).startswith("List[")
    mutated = tuple(
        i for i, a in enumerate(schema.arguments) if a.alias_info is not None and a.alias_info.is_write
    )
    return OpInfo(name=name, n_returns=len(returns), returns_list=returns_list, mutated_args=mutated)


def _build_op_tables() -> tuple[dict[str, OpInfo], dict[str, Callable], dict[Any, str]]:
    infos: dict[str, OpInfo] = {GETITEM: OpInfo(GETITEM, 1, False, ())}
    callables: dict[str, Callable] = {GETITEM: operator.getitem}
    reverse: dict[Any, str] = {operator.getitem: GETITEM}
    for full in names.OP_NAMES:
        if full == GETITEM or full in names.LIBRARY_OPS:  # library ops: loaded on first use
            continue
        overload = _overload(full)  # fails at import if an entry is not a real overload
        infos[full] = _info_of(full, overload)
        callables[full] = overload
        reverse[overload] = full
    return infos, callables, reverse


OPS, _OP_CALLABLES, _OP_NAMES_BY_CALLABLE = _build_op_tables()


def _library_op(name: Any) -> bool:
    """Add the library op ``name`` (:data:`harness.case.names.LIBRARY_OPS`) to the tables, importing the module that
    registers it; False if ``name`` is not one or its library does not import."""
    module = names.LIBRARY_OPS.get(name) if isinstance(name, str) else None
    if module is None:
        return False
    try:
        importlib.import_module(module)
        overload = _overload(name)
    except (ImportError, AttributeError):
        return False
    OPS[name], _OP_CALLABLES[name], _OP_NAMES_BY_CALLABLE[overload] = _info_of(name, overload), overload, name
    return True


def _unknown_op(name: Any) -> UnknownName:
    module = names.LIBRARY_OPS.get(name) if isinstance(name, str) else None
    return UnknownName(f"op (its library {module} does not import)" if module else "op", name)


def op_info(name: str) -> OpInfo:
    """The :class:`OpInfo` of an allowed op name."""
    if not (isinstance(name, str) and (name in OPS or _library_op(name))):
        raise _unknown_op(name)
    return OPS[name]


def resolve_op(name: str) -> Callable:
    """The callable for an op name: an ``OpOverload`` for ``"aten.<packet>.<overload>"`` (or a library op), or
    ``operator.getitem``."""
    if not (isinstance(name, str) and (name in _OP_CALLABLES or _library_op(name))):
        raise _unknown_op(name)
    return _OP_CALLABLES[name]


def op_name(fn: Callable) -> str:
    """The allow-listed name of an op callable (reverse of :func:`resolve_op`)."""
    try:
        return _OP_NAMES_BY_CALLABLE[fn]
    except (KeyError, TypeError):
        pass
    if isinstance(fn, torch._ops.OpOverload) and _library_op(str(fn)):
        return str(fn)
    raise UnknownName("op", str(fn))


# ---- observer / fake-quant constructors --------------------------------------------------------


def _ctor_table() -> dict[str, type]:
    table = {}
    for qualname in names.CTOR_NAMES:
        module, _, attr = qualname.rpartition(".")
        cls = getattr(importlib.import_module(module), attr)  # fails at import if the list is stale
        if f"{cls.__module__}.{cls.__qualname__}" != qualname:
            raise ImportError(f"allow-listed observer {qualname} is really {cls.__module__}.{cls.__qualname__}")
        table[qualname] = cls
    return table


CTORS: dict[str, type] = _ctor_table()
_CTOR_NAMES: dict[type, str] = {cls: name for name, cls in CTORS.items()}

CtorValue = Union[None, bool, int, float, str, Ctor]


_CTOR_CACHE: dict[Any, Any] = {}


def _typed_key(value: Any) -> Any:
    """A cache key that tells ``1``, ``1.0`` and ``True`` apart (they compare equal in Python)."""
    if isinstance(value, Ctor):
        return (value.qualname, tuple((k, _typed_key(v)) for k, v in value.kwargs))
    return (type(value).__name__, value)


def resolve_ctor(ctor: Ctor) -> Any:
    """The observer/fake-quant constructor a :class:`Ctor` stands for.

    Without kwargs it is the class itself; with kwargs ``cls.with_args(**kwargs)`` (a ``PartialWrapper``),
    nested ``Ctor`` values resolved the same way. Cached, so equal ``Ctor``s give the same object (as a
    quantizer that reuses one config does).
    """
    if not isinstance(ctor, Ctor):
        raise UnsupportedCtor(f"expected a Ctor, got {type(ctor).__name__}")
    try:
        key = _typed_key(ctor)
        cached = _CTOR_CACHE.get(key)
    except TypeError:  # an unhashable kwarg value: reported below
        key, cached = None, None
    if cached is not None:
        return cached
    built = _resolve_ctor_uncached(ctor)
    if key is not None and len(_CTOR_CACHE) < 4096:
        _CTOR_CACHE[key] = built
    return built


def _resolve_ctor_uncached(ctor: Ctor) -> Any:
    try:
        cls = CTORS[ctor.qualname]
    except (KeyError, TypeError):
        raise UnknownName("observer class", ctor.qualname) from None
    if not ctor.kwargs:
        return cls
    kwargs: dict[str, Any] = {}
    for key, value in ctor.kwargs:
        if isinstance(value, Ctor):
            kwargs[key] = resolve_ctor(value)
        elif value is None or isinstance(value, (bool, int, float, str)):
            kwargs[key] = value
        else:
            raise UnsupportedCtor(f"{ctor.qualname}: kwarg {key!r} has unsupported type {type(value).__name__}")
    return cls.with_args(**kwargs)


def ctor_of(obj: Any) -> Ctor:
    """The :class:`Ctor` of an observer constructor (a class or a ``with_args`` ``PartialWrapper``).

    Nested ``with_args`` calls are flattened (later kwargs win, as when the constructor is called). Class
    values of kwargs (``observer=MovingAverageMinMaxObserver``) become nested ``Ctor``s. Values that are
    not JSON scalars or constructors raise :class:`UnsupportedCtor`.
    """
    if isinstance(obj, type):
        try:
            return Ctor(_CTOR_NAMES[obj])
        except KeyError:
            raise UnknownName("observer class", f"{obj.__module__}.{obj.__qualname__}") from None
    if not isinstance(obj, PartialWrapper):
        raise UnsupportedCtor(f"not an observer constructor: {type(obj).__name__}")
    if obj.callable_args:
        raise UnsupportedCtor(f"with_callable_args is not supported: {sorted(obj.callable_args)}")
    merged: dict[str, Any] = {}
    inner: Any = obj
    layers = []
    while isinstance(inner, PartialWrapper):
        if inner.callable_args:
            raise UnsupportedCtor(f"with_callable_args is not supported: {sorted(inner.callable_args)}")
        part = inner.p
        if part.args:
            raise UnsupportedCtor("positional with_args arguments are not supported")
        layers.append(dict(part.keywords))
        inner = part.func
    for layer in reversed(layers):  # innermost first, so outer (later) with_args win
        merged.update(layer)
    base = ctor_of(inner)
    kwargs = []
    for key, value in merged.items():
        kwargs.append((key, _ctor_kwarg(base.qualname, key, value)))
    return Ctor(base.qualname, tuple(kwargs))


def _ctor_kwarg(qualname: str, key: str, value: Any) -> CtorValue:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsupportedCtor(f"{qualname}: kwarg {key!r} is not finite: {value}")
        return value
    if isinstance(value, (type, PartialWrapper)):
        return ctor_of(value)
    raise UnsupportedCtor(f"{qualname}: kwarg {key!r} has unsupported type {type(value).__name__}")


# ---- dtypes, qschemes and other constants ------------------------------------------------------

DTYPES: dict[str, torch.dtype] = {n: getattr(torch, n) for n in names.DTYPE_NAMES}
_DTYPE_BY_OBJ = {v: k for k, v in DTYPES.items()}

QSCHEMES: dict[str, torch.qscheme] = {n: getattr(torch, n) for n in names.QSCHEME_NAMES}
_QSCHEME_BY_OBJ = {v: k for k, v in QSCHEMES.items()}

CONST_KINDS: dict[str, dict[str, Any]] = {
    "dtype": DTYPES,
    "memory_format": {n: getattr(torch, n) for n in names.CONST_NAMES["memory_format"]},
    "layout": {n: getattr(torch, n) for n in names.CONST_NAMES["layout"]},
    "device": {n: torch.device(n) for n in names.CONST_NAMES["device"]},
}
_CONST_BY_OBJ: dict[Any, Const] = {}
for _kind, _table in CONST_KINDS.items():
    for _name, _obj in _table.items():
        _CONST_BY_OBJ[_obj] = Const(_kind, _name)  # type: ignore[arg-type]


def resolve_dtype(name: str) -> torch.dtype:
    """``"int8"`` -> ``torch.int8``."""
    try:
        return DTYPES[name]
    except (KeyError, TypeError):
        raise UnknownName("dtype", name) from None


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.int8`` -> ``"int8"``."""
    try:
        return _DTYPE_BY_OBJ[dtype]
    except (KeyError, TypeError):
        raise UnknownName("dtype", str(dtype)) from None


def resolve_qscheme(name: Optional[str]) -> Optional[torch.qscheme]:
    """``"per_channel_symmetric"`` -> ``torch.per_channel_symmetric``; ``None`` stays ``None``."""
    if name is None:
        return None
    try:
        return QSCHEMES[name]
    except (KeyError, TypeError):
        raise UnknownName("qscheme", name) from None


def qscheme_name(qscheme: Optional[torch.qscheme]) -> Optional[str]:
    """``torch.per_channel_symmetric`` -> ``"per_channel_symmetric"``; ``None`` stays ``None``."""
    if qscheme is None:
        return None
    try:
        return _QSCHEME_BY_OBJ[qscheme]
    except (KeyError, TypeError):
        raise UnknownName("qscheme", str(qscheme)) from None


def resolve_const(const: Const) -> Any:
    """The torch object of a :class:`Const` (dtype, memory format, layout or device)."""
    table = CONST_KINDS.get(const.kind) if isinstance(const.kind, str) else None
    if table is None:
        raise UnknownName("constant kind", const.kind)
    try:
        return table[const.value]
    except (KeyError, TypeError):
        raise UnknownName(const.kind, const.value) from None


def const_of(obj: Any) -> Optional[Const]:
    """The :class:`Const` of a torch constant, or ``None`` if ``obj`` is not one we name.

    Raises :class:`UnknownName` for a torch constant of a known kind that has no allowed name.
    """
    if isinstance(obj, torch.device):
        key: Any = torch.device(obj.type) if obj.index is None else obj
        found = _CONST_BY_OBJ.get(key)
        if found is None:
            raise UnknownName("device", str(obj))
        return found
    if isinstance(obj, (torch.dtype, torch.memory_format, torch.layout)):
        found = _CONST_BY_OBJ.get(obj)
        if found is None:
            raise UnknownName(type(obj).__name__, str(obj))
        return found
    return None


# ---- derive functions --------------------------------------------------------------------------

# the built-in ones; functions opted in by qualified name resolve too (harness.fx.derive_registry)
DERIVE_FNS: dict[str, Callable] = derive_registry.BUILTIN


def resolve_derive_fn(name: str) -> Callable:
    """The derive function (a ``DerivedQuantizationSpec.derive_qparams_fn``) called ``name``: built in, or opted in
    with :func:`harness.fx.derive_registry.allow`."""
    return derive_registry.resolve(name)


def derive_fn_name(fn: Callable) -> str:
    """The name a case stores for a derive function (reverse of :func:`resolve_derive_fn`); ``UnknownName`` gives
    the qualified name to opt in."""
    return derive_registry.name_of(fn)
