"""Shape rules of the ops of real quantizers' vocabulary beyond the first ones (pure, no torch), by kind
(:data:`RULES`; the op table's entries name them). The helpers are those of :mod:`harness.strategies.shapes`."""

from __future__ import annotations

import math

from harness.case import Ref, TensorMeta
from harness.strategies.shapes import Rule, ShapeRuleError, arg_at, broadcast, conv_out, norm_dim

__all__ = ["RULES"]


def _tuple(v, n: int) -> tuple[int, ...]:
    if isinstance(v, int):
        return (v,) * n
    v = tuple(v)
    return v * n if len(v) == 1 else v


def _conv(node, args, kwargs, t):
    """conv1d/2d/3d: ``(x, weight, bias, stride, padding, dilation, groups)``."""
    x, w = t(args[0]), t(args[1])
    n = len(w.shape) - 2
    if len(x.shape) != n + 2 or x.shape[1] != w.shape[1] * arg_at(args, kwargs, 6, "groups", 1):
        raise ShapeRuleError(node, f"conv of {x.shape} with weight {w.shape}")
    padding = arg_at(args, kwargs, 4, "padding", 0)
    if padding == "same":
        return TensorMeta((x.shape[0], w.shape[0]) + x.shape[2:], x.dtype)
    stride, dil = (_tuple(arg_at(args, kwargs, i, k, d), n) for i, k, d in ((3, "stride", 1), (5, "dilation", 1)))
    pad = _tuple(0 if padding == "valid" else padding, n)
    out = tuple(conv_out(x.shape[2 + i], w.shape[2 + i], stride[i], pad[i], dil[i]) for i in range(n))
    if min(out) < 1:
        raise ShapeRuleError(node, "conv output is empty")
    return TensorMeta((x.shape[0], w.shape[0]) + out, x.dtype)


def _conv_transpose(node, args, kwargs, t):
    """conv_transpose1d/2d/3d: ``(x, weight, bias, stride, padding, output_padding, groups, dilation)``."""
    x, w = t(args[0]), t(args[1])
    n = len(w.shape) - 2
    groups = arg_at(args, kwargs, 6, "groups", 1)
    if len(x.shape) != n + 2 or x.shape[1] != w.shape[0]:
        raise ShapeRuleError(node, f"conv_transpose of {x.shape} with weight {w.shape}")
    stride, pad, opad, dil = (_tuple(arg_at(args, kwargs, i, k, d), n) for i, k, d in
                              ((3, "stride", 1), (4, "padding", 0), (5, "output_padding", 0), (7, "dilation", 1)))
    out = tuple((x.shape[2 + i] - 1) * stride[i] - 2 * pad[i] + dil[i] * (w.shape[2 + i] - 1) + opad[i] + 1
                for i in range(n))
    return TensorMeta((x.shape[0], w.shape[1] * groups) + out, x.dtype)


def _reduce(node, args, kwargs, t, dtype=None):
    """sum/amax/amin/argmax over ``dim`` (a list, or one int for argmax) with ``keepdim``."""
    x = t(args[0])
    dim = arg_at(args, kwargs, 1, "dim", ())
    dims = {norm_dim(d, len(x.shape), node) for d in ((dim,) if isinstance(dim, int) else dim)}
    keep = arg_at(args, kwargs, 2, "keepdim", False)
    shape = tuple(1 if i in dims else s for i, s in enumerate(x.shape) if keep or i not in dims)
    return TensorMeta(shape, dtype or x.dtype)


def _unsqueeze(node, args, kwargs, t):
    x = t(args[0])
    d = norm_dim(arg_at(args, kwargs, 1, "dim"), len(x.shape) + 1, node)
    return TensorMeta(x.shape[:d] + (1,) + x.shape[d:], x.dtype)


def _squeeze(node, args, kwargs, t):
    x = t(args[0])
    dim = arg_at(args, kwargs, 1, "dim", None)
    dims = range(len(x.shape)) if dim is None else [dim] if isinstance(dim, int) else dim
    drop = {norm_dim(d, len(x.shape), node) for d in dims}
    return TensorMeta(tuple(s for i, s in enumerate(x.shape) if not (i in drop and s == 1)), x.dtype)


def _transpose(node, args, kwargs, t):
    x = t(args[0])
    rank = len(x.shape)
    a, b = (norm_dim(arg_at(args, kwargs, i, k, -(2 - i) if rank > 1 else 0), rank, node)
            for i, k in ((1, "dim0"), (2, "dim1")))
    shape = list(x.shape)
    shape[a], shape[b] = shape[b], shape[a]
    return TensorMeta(tuple(shape), x.dtype)


def _slice(node, args, kwargs, t):
    x = t(args[0])
    d = norm_dim(arg_at(args, kwargs, 1, "dim", 0), len(x.shape), node)
    start, end, step = (arg_at(args, kwargs, i, k, v) for i, k, v in ((2, "start", None), (3, "end", None),
                                                                       (4, "step", 1)))
    n = len(range(*slice(start, end, step).indices(x.shape[d])))
    return TensorMeta(x.shape[:d] + (n,) + x.shape[d + 1:], x.dtype)


def _select(node, args, kwargs, t):
    x = t(args[0])
    d = norm_dim(arg_at(args, kwargs, 1, "dim"), len(x.shape), node)
    return TensorMeta(x.shape[:d] + x.shape[d + 1:], x.dtype)


def _expand(node, args, kwargs, t):
    x = t(args[0])
    size = tuple(arg_at(args, kwargs, 1, "size"))
    lead = len(size) - len(x.shape)
    out = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(size))
    if lead < 0 or broadcast(x.shape, out, node) != out:
        raise ShapeRuleError(node, f"cannot expand {x.shape} to {size}")
    return TensorMeta(out, x.dtype)


def _repeat(node, args, kwargs, t):
    x = t(args[0])
    reps = tuple(arg_at(args, kwargs, 1, "repeats"))
    shape = (1,) * (len(reps) - len(x.shape)) + x.shape
    return TensorMeta(tuple(s * r for s, r in zip(shape, reps)), x.dtype)


def _pad(node, args, kwargs, t):
    x = t(args[0])
    pads = tuple(arg_at(args, kwargs, 1, "pad"))
    shape = list(x.shape)
    for i in range(len(pads) // 2):
        shape[-1 - i] += pads[2 * i] + pads[2 * i + 1]
    return TensorMeta(tuple(shape), x.dtype)


def _upsample(node, args, kwargs, t):
    """upsample_*2d.vec: ``(x, output_size, [align_corners,] scale_factors)``."""
    x = t(args[0])
    size = arg_at(args, kwargs, 1, "output_size", None)
    scales = args[-1] if len(args) > 2 else kwargs.get("scale_factors")
    if size is None:
        size = tuple(int(math.floor(s * f)) for s, f in zip(x.shape[2:], scales))
    return TensorMeta(x.shape[:2] + tuple(size), x.dtype)


def _pixel_shuffle(node, args, kwargs, t, up=True):
    x = t(args[0])
    r = args[1]
    n, c, h, w = x.shape[-4:] if len(x.shape) >= 4 else (None,) * 4
    if up:
        return TensorMeta(x.shape[:-3] + (c // (r * r), h * r, w * r), x.dtype)
    return TensorMeta(x.shape[:-3] + (c * r * r, h // r, w // r), x.dtype)


def _matmul(node, args, kwargs, t):
    a, b = t(args[0]), t(args[1])
    if a.shape[-1] != (b.shape[-2] if len(b.shape) > 1 else b.shape[0]):
        raise ShapeRuleError(node, f"matmul of {a.shape} and {b.shape}")
    if len(b.shape) == 1:
        return TensorMeta(a.shape[:-1], a.dtype)
    batch = broadcast(a.shape[:-2], b.shape[:-2], node)
    return TensorMeta(batch + a.shape[-2:-1] + b.shape[-1:], a.dtype)


def _addmm(node, args, kwargs, t):
    a, b = t(args[1]), t(args[2])
    return TensorMeta((a.shape[0], b.shape[1]), a.dtype)


def _where(node, args, kwargs, t):
    shapes = [t(a).shape for a in args[:3] if isinstance(a, Ref)]
    out = shapes[0]
    for s in shapes[1:]:
        out = broadcast(out, s, node)
    return TensorMeta(out, t(args[1]).dtype if isinstance(args[1], Ref) else t(args[2]).dtype)


def _sdpa(node, args, kwargs, t):
    q, v = t(args[0]), t(args[2])
    return TensorMeta(q.shape[:-1] + v.shape[-1:], q.dtype)


def _pool1d(node, args, kwargs, t):
    x = t(args[0])
    k = _tuple(args[1], 1)[0]
    s = arg_at(args, kwargs, 2, "stride", ())
    s = k if not s else _tuple(s, 1)[0]
    p = _tuple(arg_at(args, kwargs, 3, "padding", 0), 1)[0]
    return TensorMeta(x.shape[:-1] + (conv_out(x.shape[-1], k, s, p, 1),), x.dtype)


def _adaptive1d(node, args, kwargs, t):
    x = t(args[0])
    return TensorMeta(x.shape[:-1] + (_tuple(args[1], 1)[0],), x.dtype)


def _movedim(node, args, kwargs, t):
    x = t(args[0])
    rank = len(x.shape)
    srcs, dsts = ((a,) if isinstance(a, int) else tuple(a) for a in args[1:3])
    moved = {norm_dim(d, rank, node): norm_dim(s, rank, node) for s, d in zip(srcs, dsts)}
    rest = iter(i for i in range(rank) if i not in moved.values())
    order = [moved[i] if i in moved else next(rest) for i in range(rank)]
    return TensorMeta(tuple(x.shape[i] for i in order), x.dtype)


def _embedding(node, args, kwargs, t):
    w, idx = t(args[0]), t(args[1])
    return TensorMeta(idx.shape + w.shape[1:], w.dtype)


def _like(node, args, kwargs, t):
    return TensorMeta(t(args[0]).shape, t(args[0]).dtype)


def _reduce_at(dim_pos: int, keep_pos: int, keep_key: str = "keepdim"):
    """A reduction whose ``dim`` is argument ``dim_pos`` and ``keepdim`` argument ``keep_pos`` (or a keyword)."""
    def rule(node, args, kwargs, t):
        x = t(args[0])
        dim = arg_at(args, kwargs, dim_pos, "dim", None)
        dims = set(range(len(x.shape))) if dim is None else {
            norm_dim(d, len(x.shape), node) for d in ((dim,) if isinstance(dim, int) else dim)}
        keep = arg_at(args, kwargs, keep_pos, keep_key, False)
        return TensorMeta(tuple(1 if i in dims else s for i, s in enumerate(x.shape) if keep or i not in dims), x.dtype)

    return rule


def _narrow(node, args, kwargs, t):
    x = t(args[0])
    d = norm_dim(args[1], len(x.shape), node)
    return TensorMeta(x.shape[:d] + (args[3],) + x.shape[d + 1:], x.dtype)


def _unflatten(node, args, kwargs, t):
    x = t(args[0])
    d = norm_dim(args[1], len(x.shape), node)
    return TensorMeta(x.shape[:d] + tuple(args[2]) + x.shape[d + 1:], x.dtype)


def _repeat_interleave(node, args, kwargs, t):
    x = t(args[0])
    d = norm_dim(arg_at(args, kwargs, 2, "dim"), len(x.shape), node)
    return TensorMeta(x.shape[:d] + (x.shape[d] * args[1],) + x.shape[d + 1:], x.dtype)


def _second(node, args, kwargs, t):
    """The shape of the second argument (``expand_as``, ``view_as``), the dtype of the first."""
    return TensorMeta(t(args[1]).shape, t(args[0]).dtype)


def _glu(node, args, kwargs, t):
    x = t(args[0])
    d = norm_dim(arg_at(args, kwargs, 1, "dim", -1), len(x.shape), node)
    return TensorMeta(x.shape[:d] + (x.shape[d] // 2,) + x.shape[d + 1:], x.dtype)


def _cosine_similarity(node, args, kwargs, t):
    shape = broadcast(t(args[0]).shape, t(args[1]).shape, node)
    d = norm_dim(arg_at(args, kwargs, 2, "dim", 1), len(shape), node)
    return TensorMeta(shape[:d] + shape[d + 1:], t(args[0]).dtype)


def _cdist(node, args, kwargs, t):
    a, b = t(args[0]), t(args[1])
    return TensorMeta(a.shape[:-1] + b.shape[-2:-1], a.dtype)


def _einsum(node, args, kwargs, t):
    spec, operands = args[0], [t(r) for r in args[1]]
    ins, out = spec.split("->")
    sizes: dict[str, int] = {}
    for letters, m in zip(ins.split(","), operands):
        sizes.update(zip(letters, m.shape))
    return TensorMeta(tuple(sizes[ch] for ch in out), operands[0].dtype)


def _pool_nd(node, args, kwargs, t):
    """avg_pool3d/max_pool3d: ``(x, kernel, stride, padding)`` over the trailing ``len(kernel)`` dims."""
    x = t(args[0])
    k = tuple(args[1])
    n = len(k)
    s = arg_at(args, kwargs, 2, "stride", ()) or k
    p = _tuple(arg_at(args, kwargs, 3, "padding", 0), n)
    out = tuple(conv_out(x.shape[-n + i], k[i], _tuple(s, n)[i], p[i], 1) for i in range(n))
    return TensorMeta(x.shape[:-n] + out, x.dtype)


def _adaptive_nd(node, args, kwargs, t):
    x = t(args[0])
    size = tuple(args[1])
    return TensorMeta(x.shape[:-len(size)] + size, x.dtype)


def _with_indices(rule):
    """A multi-output op: the values by ``rule``, and int64 indices of the same shape."""
    def multi(node, args, kwargs, t):
        v = rule(node, args, kwargs, t)
        return (v, TensorMeta(v.shape, "int64"))

    return multi


def _im2col(node, args, kwargs, t):
    x = t(args[0])
    k, dil, pad, stride = (tuple(a) for a in args[1:5])
    blocks = math.prod(conv_out(x.shape[2 + i], k[i], stride[i], pad[i], dil[i]) for i in range(2))
    return TensorMeta((x.shape[0], x.shape[1] * k[0] * k[1], blocks), x.dtype)


def _grid_sampler(node, args, kwargs, t):
    x, g = t(args[0]), t(args[1])
    return TensorMeta(x.shape[:2] + g.shape[1:3], x.dtype)


def _to_dtype(node, args, kwargs, t):
    return TensorMeta(t(args[0]).shape, arg_at(args, kwargs, 1, "dtype").value)


def _size_creation(node, args, kwargs, t):
    """zeros/ones/full ``(size, ...)``: float32."""
    return TensorMeta(tuple(args[0]), "float32")


def _eye(node, args, kwargs, t):
    return TensorMeta((args[0], args[1] if len(args) > 1 else args[0]), "float32")


def _range_creation(node, args, kwargs, t):
    """arange ``(end)``, ``(start, end[, step])``, linspace ``(start, end, steps)`` of floats."""
    if len(args) == 3 and isinstance(args[2], int) and all(isinstance(a, float) for a in args[:2]):
        return TensorMeta((args[2],), "float32")  # linspace
    start, end = (0.0, args[0]) if len(args) == 1 else args[:2]
    step = args[2] if len(args) > 2 else 1.0
    return TensorMeta((len(range(0, math.ceil((end - start) / step))),), "float32")


def _index_gather(node, args, kwargs, t):
    """gather ``(x, dim, index)``: the index's shape."""
    return TensorMeta(t(args[2]).shape, t(args[0]).dtype)


def _index_select(node, args, kwargs, t):
    x, idx = t(args[0]), t(args[2])
    d = norm_dim(args[1], len(x.shape), node)
    return TensorMeta(x.shape[:d] + idx.shape + x.shape[d + 1:], x.dtype)


def _index(node, args, kwargs, t):
    x, idx = t(args[0]), t(args[1][0])
    return TensorMeta(idx.shape + x.shape[1:], x.dtype)


RULES: dict[str, Rule] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "reduce": _reduce,
    "reduce_index": lambda n, a, k, t: _reduce(n, a, k, t, dtype="int64"),
    "unsqueeze": _unsqueeze,
    "squeeze": _squeeze,
    "transpose": _transpose,
    "slice": _slice,
    "select": _select,
    "expand": _expand,
    "repeat": _repeat,
    "pad": _pad,
    "upsample": _upsample,
    "pixel_shuffle": _pixel_shuffle,
    "pixel_unshuffle": lambda n, a, k, t: _pixel_shuffle(n, a, k, t, up=False),
    "matmul": _matmul,
    "addmm": _addmm,
    "where": _where,
    "sdpa": _sdpa,
    "pool1d": _pool1d,
    "adaptive1d": _adaptive1d,
    "movedim": _movedim,
    "like": _like,
    "embedding": _embedding,
    "reduce_norm": _reduce_at(2, 3),
    "reduce_var": _reduce_at(1, 3),
    "reduce_correction": _reduce_at(1, 99),
    "narrow": _narrow,
    "unflatten": _unflatten,
    "repeat_interleave": _repeat_interleave,
    "second": _second,
    "glu": _glu,
    "cosine_similarity": _cosine_similarity,
    "cdist": _cdist,
    "einsum": _einsum,
    "pool_nd": _pool_nd,
    "adaptive_nd": _adaptive_nd,
    "sort": _with_indices(_like),
    "min_dim": _with_indices(_reduce),
    "adaptive_max_pool2d": _with_indices(_adaptive_nd),
    "max_pool2d_with_indices": _with_indices(lambda n, a, k, t: _pool_nd(n, (a[0], tuple(a[1])) + tuple(a[2:4]), k, t)),
    "im2col": _im2col,
    "grid_sampler": _grid_sampler,
    "to_dtype": _to_dtype,
    "size_creation": _size_creation,
    "eye": _eye,
    "range_creation": _range_creation,
    "gather": _index_gather,
    "index_select": _index_select,
    "index": _index,
}
