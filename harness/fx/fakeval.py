"""FakeTensor ``meta["val"]`` values for built graphs, computed fast.

``torch.export`` puts a FakeTensor (or a list/tuple of them for multi-output ops) in every node's ``meta["val"]``;
prepare relies on it (an output observer is only inserted when the value is a FakeTensor). Running each op under a
``FakeTensorMode`` costs 0.2-5 ms per op, too slow for a fuzzer building thousands of graphs, so :func:`propagate`
keeps a process-wide cache from (op, argument shapes/dtypes/scalars) to the output's metadata. On a miss it runs the
op on meta tensors of the same shapes, strides and dtypes (the kernels a FakeTensorMode mostly dispatches to,
without its dispatch), or, for a pointwise op of one contiguous float tensor, gives the result that tensor's shape,
strides and dtype by rule (:func:`_by_rule`: some of their meta kernels are slow Python). The ``FakeTensorMode``
stays the authority: the first time a kind of call (the op and its non-tensor arguments, numbers by type and sign)
is seen, both run and the meta result (or the rule's) is trusted for that kind only if it is the fake mode's
(``_native_batch_norm_legit_no_training``'s meta kernel, for one, gives its saved statistics a shape the fake mode
does not); it also runs when the meta kernels fail (no meta kernel, or the op rejects its arguments: the fake mode's
error is the one raised). A hit builds the FakeTensors directly from the cached shape, stride and dtype. Outputs
that are one of the inputs (in-place ops, ``to`` without a change) are returned as that very input object, as under
fake-tensor propagation; so is the element ``getitem`` takes from a list or tuple of values, without any of this (it
runs no op).
"""

from __future__ import annotations

import operator
import threading
from typing import Any, Callable

import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

__all__ = ["fake_mode", "fake_tensor", "fake_like", "propagate", "clear_cache"]

_CPU = torch.device("cpu")
_MAX_CACHE = 20_000
_lock = threading.Lock()
_mode: FakeTensorMode | None = None
_cache: dict[Any, Any] = {}
_meta_agrees: dict[Any, bool] = {}  # kind of call -> whether the meta kernels gave what the FakeTensorMode gives


def fake_mode() -> FakeTensorMode:
    """The process-wide ``FakeTensorMode`` every value made here belongs to."""
    global _mode
    with _lock:
        if _mode is None:
            _mode = FakeTensorMode()
        return _mode


def fake_tensor(shape: tuple[int, ...], dtype: torch.dtype, stride: tuple[int, ...] | None = None) -> FakeTensor:
    """A CPU FakeTensor of the given shape, dtype and (default: contiguous) stride."""
    if stride is None:
        elem = torch.empty(shape, dtype=dtype, device="meta")
    else:
        elem = torch.empty_strided(shape, stride, dtype=dtype, device="meta")
    return FakeTensor(fake_mode(), elem, _CPU)


def fake_like(tensor: torch.Tensor) -> FakeTensor:
    """A FakeTensor with the shape, stride and dtype of a real tensor."""
    return fake_tensor(tuple(tensor.shape), tensor.dtype, tuple(tensor.stride()))


def clear_cache() -> None:
    """Forget all cached op results and what was learnt of the meta kernels (for tests)."""
    with _lock:
        _cache.clear()
        _meta_agrees.clear()


def _key(value: Any, leaves: list[torch.Tensor]) -> Any:
    """A hashable key of an argument tree; tensors become their metadata and are collected in ``leaves``."""
    if isinstance(value, torch.Tensor):
        leaves.append(value)
        return ("T", tuple(value.shape), tuple(value.stride()), value.dtype)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_key(v, leaves) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((k, _key(v, leaves)) for k, v in value.items()))
    return (type(value).__name__, value)


def _template(value: Any, leaves: list[torch.Tensor]) -> Any:
    """The cacheable description of an op result: tensors by metadata, or by position if they alias an input."""
    if isinstance(value, torch.Tensor):
        for i, leaf in enumerate(leaves):
            if value is leaf:
                return ("alias", i)
        return ("T", tuple(value.shape), tuple(value.stride()), value.dtype)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_template(v, leaves) for v in value))
    return ("V", value)


def _materialize(template: Any, leaves: list[torch.Tensor]) -> Any:
    kind = template[0]
    if kind == "T":
        return fake_tensor(template[1], template[3], template[2])
    if kind == "alias":
        return leaves[template[1]]
    if kind == "list":
        return [_materialize(t, leaves) for t in template[1]]
    if kind == "tuple":
        return tuple(_materialize(t, leaves) for t in template[1])
    return template[1]


def propagate(name: str, fn: Callable, args: tuple, kwargs: dict) -> Any:
    """The fake value of ``fn(*args, **kwargs)`` (``args`` holding FakeTensors made here).

    Exceptions raised by the op (bad shapes, bad arguments) propagate unchanged; failures are not cached.
    """
    if fn is operator.getitem and isinstance(args[0], (list, tuple)) and not kwargs:
        return args[0][args[1]]  # an element of a multi-output op's value: that very value, as fake propagation gives
    leaves: list[torch.Tensor] = []
    key = (name, _key(args, leaves), _key(kwargs, leaves))  # ``leaves``: every input tensor, as _on_meta sees them
    try:
        hash(key)
    except TypeError:
        key = None
    if key is not None:
        template = _cache.get(key)
        if template is not None:
            return _materialize(template, leaves)
    kind = _kind(name, args, kwargs)
    fast = _by_rule(name, args, kwargs)
    if fast is not None:  # trusted apart from the meta kernels of the same kind of call
        kind = ("by rule", kind)
    trusted = _meta_agrees.get(kind)
    if trusted is False:
        template = None
    else:
        template = fast if fast is not None else _on_meta(fn, args, kwargs)
    if template is None or trusted is None:
        # the FakeTensorMode decides (and raises if it must): when the meta kernels cannot run the op, when they
        # once disagreed with it on this kind of call, and the first time a kind of call is seen
        with fake_mode(), torch.no_grad():
            result = fn(*args, **kwargs)
        faked = _template(result, leaves)
        if template is not None:
            with _lock:
                if len(_meta_agrees) >= _MAX_CACHE:
                    _meta_agrees.clear()
                _meta_agrees[kind] = faked == template
        template = faked
    else:
        result = _materialize(template, leaves)
    if key is not None:
        with _lock:
            if len(_cache) >= _MAX_CACHE:
                _cache.clear()
            _cache[key] = template
    return result


# pointwise ops of one tensor that give a float tensor a result of its shape and dtype; the in-place ones return it
_POINTWISE = frozenset(f"aten.{op}.default" for op in (
    "relu", "relu6", "hardtanh", "sigmoid", "tanh", "hardswish", "hardsigmoid", "silu", "gelu", "elu", "leaky_relu",
    "clamp", "neg", "abs", "exp", "erf", "sin", "cos", "floor", "round", "sign", "square"))
_POINTWISE_IN_PLACE = frozenset(f"aten.{op}_.default" for op in (
    "relu", "relu6", "hardtanh", "sigmoid", "tanh", "hardswish", "hardsigmoid", "silu", "elu", "leaky_relu",
    "clamp"))


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def _by_rule(name: str, args: tuple, kwargs: dict) -> Any:
    """The template of a pointwise op's result on one float tensor with the contiguous strides of its shape: a tensor
    of that shape, strides and dtype (a new one; the input itself for an in-place op); None for any other call.
    The meta kernels of some of these run Python decompositions (``hardtanh`` some 1.5 ms on a meta tensor, ``relu``
    0.25 ms), as long as a whole prepare. Trusted only once the FakeTensorMode gave the same on that kind of call."""
    in_place = name in _POINTWISE_IN_PLACE
    if not (in_place or name in _POINTWISE) or not args:
        return None
    x = args[0]
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        return None
    if any(isinstance(v, torch.Tensor) for v in args[1:]) or any(isinstance(v, torch.Tensor) for v in kwargs.values()):
        return None
    shape, stride = tuple(x.shape), tuple(x.stride())
    if stride != _contiguous_strides(shape):
        return None
    return ("alias", 0) if in_place else ("T", shape, stride, x.dtype)


def _scalars(value: Any) -> Any:
    """The argument tree without its tensors, and numbers by their type and sign: what, besides shapes, selects the
    code an op runs (a flag, a mode, an omitted argument, ``-1`` for "infer this size"), not the sizes themselves.
    With the sizes in it, every ``reshape``, ``view`` or ``split`` of new sizes was a new kind of call, run under the
    fake mode as well."""
    if isinstance(value, torch.Tensor):
        return "T"
    if isinstance(value, (list, tuple)):
        return tuple(_scalars(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _scalars(v)) for k, v in value.items())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (type(value).__name__, (value > 0) - (value < 0))
    return value


def _kind(name: str, args: tuple, kwargs: dict) -> Any:
    """A kind of call: the op and its non-tensor arguments as :func:`_scalars` sees them (the op alone when they are
    not hashable)."""
    kind = (name, _scalars(args), _scalars(kwargs))
    try:
        hash(kind)
    except TypeError:
        return name
    return kind


def _to_meta(value: Any, metas: list[torch.Tensor]) -> Any:
    """``value`` with each tensor replaced by a meta tensor of its shape, stride and dtype (each appended to
    ``metas``, depth first)."""
    if isinstance(value, torch.Tensor):
        meta = torch.empty_strided(tuple(value.shape), tuple(value.stride()), dtype=value.dtype, device="meta")
        metas.append(meta)
        return meta
    if isinstance(value, (list, tuple)):
        return type(value)(_to_meta(v, metas) for v in value)
    if isinstance(value, dict):
        return {k: _to_meta(v, metas) for k, v in value.items()}
    return value


def _on_meta(fn: Callable, args: tuple, kwargs: dict) -> Any:
    """The template of ``fn``'s result computed on meta tensors (a few times cheaper than a FakeTensorMode
    dispatch), or None when the meta kernels cannot run it. Tensors are visited in :func:`_key`'s order, so an
    output aliasing an input is found by its position."""
    metas: list[torch.Tensor] = []
    try:
        meta_args, meta_kwargs = _to_meta((args, kwargs), metas)
        with torch.no_grad():
            result = fn(*meta_args, **meta_kwargs)
        return _template(result, metas)
    except Exception:  # noqa: BLE001 - no meta kernel, or the op rejects its arguments: the fake mode decides
        return None
