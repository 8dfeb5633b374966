"""Shape rules of the generated ops (pure, no torch), by kind (:data:`RULES`).

A rule, given a node's args/kwargs and a lookup of its inputs' values, returns the node's value (a ``TensorMeta``,
or a tuple of them for ``split``). Each entry of the op table (:mod:`harness.strategies.op_table`) names its rule
by kind; the table's ``SHAPE_RULES`` maps op names to rules, the generator tracks shapes with them as it draws, so
every graph it makes builds, and ``infer_meta`` (in the table's module) replays them over a graph; the tests compare
its answer with the FakeTensors of the built module. More rules are in :mod:`harness.strategies.shapes_more`.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence, Union

from harness.case import Ref, TensorMeta

__all__ = [
    "ShapeRuleError", "Meta", "FLOAT", "MAX_NUMEL", "RULES", "Rule", "Lookup", "is_float", "arg_at", "norm_dim",
    "broadcast", "pair", "conv_out", "pool_out",
]


class ShapeRuleError(ValueError):
    """A graph that :func:`infer_meta` cannot follow (an op without a shape rule, or arguments that do not fit).

    ``node`` names the node at fault.
    """

    def __init__(self, node: str, reason: str) -> None:
        self.node = node
        super().__init__(f"node {node!r}: {reason}")


# A node's value: a tensor, a list of tensors (``split``, ``topk``...), or None (the output node).
Meta = dict[str, Union[TensorMeta, tuple[TensorMeta, ...], None]]

FLOAT = "float32"
MAX_NUMEL = 4096  # no generated value is bigger (tensors stay tiny, graphs build and run fast)


def is_float(value) -> bool:
    """Whether a node value is a float32 tensor (what annotations may observe)."""
    return isinstance(value, TensorMeta) and value.dtype == FLOAT


def _norm_dim(d: int, rank: int, node: str) -> int:
    if not -rank <= d < max(rank, 1):
        raise ShapeRuleError(node, f"dim {d} out of range for rank {rank}")
    return d % rank if rank else 0


def _broadcast(a: tuple[int, ...], b: tuple[int, ...], node: str) -> tuple[int, ...]:
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            raise ShapeRuleError(node, f"shapes {a} and {b} do not broadcast")
        out.append(max(x, y))
    return tuple(reversed(out))


def arg_at(args: tuple, kwargs: Mapping, i: int, key: str, default=None):
    """Argument ``i`` of a call, given positionally or as keyword ``key``, else ``default``."""
    if i < len(args):
        return args[i]
    return kwargs.get(key, default)


def _pair(v, node: str) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) != 2:
        raise ShapeRuleError(node, f"expected 1 or 2 ints, got {v}")
    return (v[0], v[1])


def _resolve_shape(numel: int, shape: Sequence[int], node: str) -> tuple[int, ...]:
    shape = tuple(shape)
    if shape.count(-1) > 1:
        raise ShapeRuleError(node, f"more than one -1 in {shape}")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise ShapeRuleError(node, f"cannot infer -1 in {shape} for {numel} elements")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    if math.prod(shape) != numel:
        raise ShapeRuleError(node, f"shape {shape} does not hold {numel} elements")
    return shape


Lookup = Callable[[object], TensorMeta]
Rule = Callable[[str, tuple, dict, Lookup], Union[TensorMeta, tuple[TensorMeta, ...]]]


def _unary(node, args, kwargs, t):
    return t(args[0])


def _binary(node, args, kwargs, t, dtype=None):
    a = t(args[0])
    other = arg_at(args, kwargs, 1, "other")
    shape = _broadcast(a.shape, t(other).shape, node) if isinstance(other, Ref) else a.shape
    return TensorMeta(shape, dtype or a.dtype)


def _cat(node, args, kwargs, t):
    metas = [t(v) for v in arg_at(args, kwargs, 0, "tensors")]
    rank = len(metas[0].shape)
    d = _norm_dim(arg_at(args, kwargs, 1, "dim", 0), rank, node)
    for m in metas:
        if len(m.shape) != rank or any(m.shape[i] != metas[0].shape[i] for i in range(rank) if i != d):
            raise ShapeRuleError(node, f"cat of mismatched shapes {[m.shape for m in metas]}")
    shape = list(metas[0].shape)
    shape[d] = sum(m.shape[d] for m in metas)
    return TensorMeta(tuple(shape), metas[0].dtype)


def _stack(node, args, kwargs, t):
    metas = [t(v) for v in arg_at(args, kwargs, 0, "tensors")]
    if any(m.shape != metas[0].shape for m in metas):
        raise ShapeRuleError(node, f"stack of mismatched shapes {[m.shape for m in metas]}")
    rank = len(metas[0].shape) + 1
    d = _norm_dim(arg_at(args, kwargs, 1, "dim", 0), rank, node)
    shape = list(metas[0].shape)
    shape.insert(d, len(metas))
    return TensorMeta(tuple(shape), metas[0].dtype)


def _split(node, args, kwargs, t):
    a = t(args[0])
    size = arg_at(args, kwargs, 1, "split_size")
    d = _norm_dim(arg_at(args, kwargs, 2, "dim", 0), len(a.shape), node)
    n = a.shape[d]
    out = []
    for start in range(0, n, size):
        shape = list(a.shape)
        shape[d] = min(size, n - start)
        out.append(TensorMeta(tuple(shape), a.dtype))
    return tuple(out)


def _pieces(a: TensorMeta, d: int, sizes: Sequence[int]) -> tuple[TensorMeta, ...]:
    return tuple(TensorMeta(a.shape[:d] + (n,) + a.shape[d + 1 :], a.dtype) for n in sizes)


def _split_with_sizes(node, args, kwargs, t):
    a = t(args[0])
    sizes = tuple(arg_at(args, kwargs, 1, "split_sizes"))
    d = _norm_dim(arg_at(args, kwargs, 2, "dim", 0), len(a.shape), node)
    if sum(sizes) != a.shape[d]:
        raise ShapeRuleError(node, f"split sizes {sizes} do not add up to {a.shape[d]}")
    return _pieces(a, d, sizes)


def _chunk(node, args, kwargs, t):
    a = t(args[0])
    d = _norm_dim(arg_at(args, kwargs, 2, "dim", 0), len(a.shape), node)
    n, size = a.shape[d], -(-a.shape[d] // arg_at(args, kwargs, 1, "chunks"))
    return _pieces(a, d, [min(size, n - start) for start in range(0, n, size)])


def _unbind(node, args, kwargs, t):
    a = t(args[0])
    d = _norm_dim(arg_at(args, kwargs, 1, "dim", 0), len(a.shape), node)
    return tuple(TensorMeta(a.shape[:d] + a.shape[d + 1 :], a.dtype) for _ in range(a.shape[d]))


def _values_indices(shape: tuple[int, ...], dtype: str) -> tuple[TensorMeta, TensorMeta]:
    return (TensorMeta(shape, dtype), TensorMeta(shape, "int64"))


def _topk(node, args, kwargs, t):
    a = t(args[0])
    d = _norm_dim(arg_at(args, kwargs, 2, "dim", -1), len(a.shape), node)
    return _values_indices(a.shape[:d] + (arg_at(args, kwargs, 1, "k"),) + a.shape[d + 1 :], a.dtype)


def _max_dim(node, args, kwargs, t):
    a = t(args[0])
    d = _norm_dim(arg_at(args, kwargs, 1, "dim"), len(a.shape), node)
    keep = arg_at(args, kwargs, 2, "keepdim", False)
    return _values_indices(a.shape[:d] + ((1,) if keep else ()) + a.shape[d + 1 :], a.dtype)


def _view(node, args, kwargs, t):
    a = t(args[0])
    size = arg_at(args, kwargs, 1, "size", kwargs.get("shape"))  # view's size, reshape's shape
    return TensorMeta(_resolve_shape(math.prod(a.shape), size, node), a.dtype)


def _permute(node, args, kwargs, t):
    a = t(args[0])
    given = tuple(arg_at(args, kwargs, 1, "dims"))
    dims = [_norm_dim(d, len(a.shape), node) for d in given]
    if sorted(dims) != list(range(len(a.shape))):
        raise ShapeRuleError(node, f"{given} is not a permutation of rank {len(a.shape)}")
    return TensorMeta(tuple(a.shape[d] for d in dims), a.dtype)


def _flatten(node, args, kwargs, t):
    a = t(args[0])
    rank = len(a.shape)
    if rank == 0:
        return TensorMeta((1,), a.dtype)
    s = _norm_dim(arg_at(args, kwargs, 1, "start_dim", 0), rank, node)
    e = _norm_dim(arg_at(args, kwargs, 2, "end_dim", -1), rank, node)
    return TensorMeta(a.shape[:s] + (math.prod(a.shape[s : e + 1]),) + a.shape[e + 1 :], a.dtype)


def _conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """A pooling window count: as a conv's, or with ``ceil_mode`` rounded up, less the last window when it would
    start in the right padding (as torch's ``pooling_output_shape``)."""
    if not ceil_mode:
        return _conv_out(size, k, s, p, d)
    out = -(-(size + 2 * p - d * (k - 1) - 1) // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def _conv2d(node, args, kwargs, t):
    x, w = t(args[0]), t(args[1])
    if len(x.shape) != 4 or len(w.shape) != 4:
        raise ShapeRuleError(node, f"conv2d of {x.shape} with weight {w.shape}")
    stride = _pair(arg_at(args, kwargs, 3, "stride", (1, 1)), node)
    pad = _pair(arg_at(args, kwargs, 4, "padding", (0, 0)), node)
    dil = _pair(arg_at(args, kwargs, 5, "dilation", (1, 1)), node)
    groups = arg_at(args, kwargs, 6, "groups", 1)
    if x.shape[1] != w.shape[1] * groups:
        raise ShapeRuleError(node, f"conv2d: {x.shape[1]} input channels, weight {w.shape}, groups {groups}")
    h = _conv_out(x.shape[2], w.shape[2], stride[0], pad[0], dil[0])
    wd = _conv_out(x.shape[3], w.shape[3], stride[1], pad[1], dil[1])
    if h < 1 or wd < 1:
        raise ShapeRuleError(node, "conv2d output is empty")
    return TensorMeta((x.shape[0], w.shape[0], h, wd), x.dtype)


def _linear(node, args, kwargs, t):
    x, w = t(args[0]), t(args[1])
    if x.shape[-1] != w.shape[1]:
        raise ShapeRuleError(node, f"linear of {x.shape} with weight {w.shape}")
    return TensorMeta(x.shape[:-1] + (w.shape[0],), x.dtype)


def _pool2d(node, args, kwargs, t, dilated: bool):
    """max_pool2d and avg_pool2d over the last two dims: kernel (argument 1), stride (2; empty: the kernel),
    padding (3), then for max_pool2d (``dilated``) dilation (4) and ceil_mode (5), for avg_pool2d ceil_mode (4)."""
    x = t(args[0])
    k = _pair(args[1], node)
    s = arg_at(args, kwargs, 2, "stride", ())
    s = k if not s else _pair(s, node)
    p = _pair(arg_at(args, kwargs, 3, "padding", 0), node)
    d = _pair(arg_at(args, kwargs, 4, "dilation", 1), node) if dilated else (1, 1)
    ceil = bool(arg_at(args, kwargs, 5 if dilated else 4, "ceil_mode", False))
    h, w = (_pool_out(x.shape[-2 + i], k[i], s[i], p[i], d[i], ceil) for i in range(2))
    return TensorMeta(x.shape[:-2] + (h, w), x.dtype)


def _adaptive_avg_pool2d(node, args, kwargs, t):
    x = t(args[0])
    return TensorMeta(x.shape[:-2] + _pair(args[1], node), x.dtype)


def _mean_dim(node, args, kwargs, t):
    x = t(args[0])
    dims = {_norm_dim(d, len(x.shape), node) for d in arg_at(args, kwargs, 1, "dim")}
    keep = arg_at(args, kwargs, 2, "keepdim", False)
    shape = tuple(1 if i in dims else s for i, s in enumerate(x.shape) if keep or i not in dims)
    return TensorMeta(shape, x.dtype)


def _mm(node, args, kwargs, t):
    a, b = t(args[0]), t(args[1])
    if len(a.shape) != 2 or len(b.shape) != 2 or a.shape[1] != b.shape[0]:
        raise ShapeRuleError(node, f"mm of {a.shape} and {b.shape}")
    return TensorMeta((a.shape[0], b.shape[1]), a.dtype)


def _bmm(node, args, kwargs, t):
    a, b = t(args[0]), t(args[1])
    if len(a.shape) != 3 or len(b.shape) != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ShapeRuleError(node, f"bmm of {a.shape} and {b.shape}")
    return TensorMeta((a.shape[0], a.shape[1], b.shape[2]), a.dtype)


def _getitem(node, args, kwargs, t):
    seq = t(args[0])
    if not isinstance(seq, tuple):
        raise ShapeRuleError(node, "getitem of a value that is not a list of tensors")
    return seq[args[1]]


# the helpers the rules of harness.strategies.shapes_more share
norm_dim, broadcast, pair, conv_out, pool_out = _norm_dim, _broadcast, _pair, _conv_out, _pool_out

# The shape rules by kind: an op table entry (:mod:`harness.strategies.op_table`) names its rule by one of these keys.
RULES: dict[str, Rule] = {
    "unary": _unary,
    "binary": _binary,
    "binary_bool": lambda n, a, k, t: _binary(n, a, k, t, dtype="bool"),
    "cat": _cat,
    "stack": _stack,
    "split": _split,
    "split_with_sizes": _split_with_sizes,
    "chunk": _chunk,
    "unbind": _unbind,
    "topk": _topk,
    "max_dim": _max_dim,
    "getitem": _getitem,
    "view": _view,
    "permute": _permute,
    "flatten": _flatten,
    "conv2d": _conv2d,
    "linear": _linear,
    "max_pool2d": lambda n, a, k, t: _pool2d(n, a, k, t, dilated=True),
    "avg_pool2d": lambda n, a, k, t: _pool2d(n, a, k, t, dilated=False),
    "adaptive_avg_pool2d": _adaptive_avg_pool2d,
    "mean_dim": _mean_dim,
    "mm": _mm,
    "bmm": _bmm,
}
