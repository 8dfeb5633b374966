"""The op generators of the graph strategy: for each generated op, when it applies and how it is drawn.

The rule: a generator only applies to a graph holding a value it accepts (rank, size, contiguity) and draws the
op the way ``torch.export`` spells it (trailing default arguments dropped, in-place writes to buffers whose value
nobody uses). Each ``gen_*`` factory takes the op's name and gives its :class:`OpGen`; the op table
(:mod:`harness.strategies.op_table`) names the factory of each op and orders them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

from hypothesis import strategies as st

from harness.case import Ref
from harness.strategies.gen_base import (
    OpGen,
    Val,
    base_name,
    default_trimmed,
    numel,
    permuted_contiguous,
    reshape_targets,
)
from harness.strategies.shapes import MAX_NUMEL
from harness.strategies.reuse import BOOLS, ints

if TYPE_CHECKING:
    from harness.strategies.graph_state import GraphState

__all__ = [
    "gen_adaptive", "gen_binary", "gen_cat", "gen_conv2d", "gen_flatten", "gen_inplace", "gen_layer_norm",
    "gen_linear", "gen_matmul", "gen_mean", "gen_permute", "gen_pool", "gen_softmax", "gen_split", "gen_stack",
    "gen_unary", "gen_view", "hardtanh_bounds",
]


def _any_float(s: GraphState) -> bool:
    return s.has()


def gen_unary(target: str, extra: Callable[[GraphState], tuple] = lambda s: ()) -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats())
        s.emit(target, (Ref(x.name),) + extra(s))

    return OpGen(target, _any_float, emit)


def hardtanh_bounds(s: GraphState) -> tuple:
    return s.pick([(), (0.0, 6.0), (-2.0, 2.0)])


def gen_binary(target: str) -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats())
        # how to get the second operand; shrinks to another existing value, then a constant
        others = s.floats(lambda v: v.meta.shape == x.meta.shape and v.name != x.name)
        modes = (["value"] if others else []) + ["attr", "broadcast_attr", "same"]
        if target in ("aten.add.Tensor", "aten.mul.Tensor"):  # a Python scalar wraps as a 0-dim tensor
            # (``x + 1.0``, ``x * 0.5``: common in real models, twice as likely in the quantizer vocabulary)
            modes[1:1] = ["scalar", "scalar"] if s.later_ops else ["scalar"]
        mode = s.pick(modes)
        if mode == "value":
            other: object = Ref(s.choose(others).name)
        elif mode == "scalar":
            other = s.pick([1.0, 2.0, 0.5])
        elif mode == "same":
            other = Ref(x.name)  # add(x, x): one value, two uses
        else:
            shape = x.meta.shape if mode == "attr" else x.meta.shape[-1:]
            other = Ref(s.attr(f"{base_name(target)}_other", shape, s.attr_kind()))
        if s.tensor_kwargs and isinstance(other, Ref) and s.draw(BOOLS):
            s.emit(target, (Ref(x.name),), (("other", other),))
            return
        alpha = target == "aten.add.Tensor" and isinstance(other, Ref) and s.draw(BOOLS)
        s.emit(target, (Ref(x.name), other), (("alpha", 2),) if alpha else ())

    return OpGen(target, _any_float, emit)


def gen_cat(target: str = "aten.cat.default") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(lambda v: numel(v) * 2 <= MAX_NUMEL))
        rank = len(x.meta.shape)
        d = s.draw(ints(0, rank - 1))
        n = s.draw(ints(2, 4))
        while n > 1 and numel(x) * n > MAX_NUMEL:
            n -= 1
        members = [x]
        for _ in range(n - 1):
            fits = s.floats(lambda v: len(v.meta.shape) == rank and v.name not in {m.name for m in members}
                            and all(v.meta.shape[i] == x.meta.shape[i] for i in range(rank) if i != d)
                            and sum(numel(m) for m in members) + numel(v) <= MAX_NUMEL)
            members.append(s.choose(fits) if fits and not s.draw(BOOLS) else x)
        dim = d - rank if s.draw(BOOLS) else d
        tensors = tuple(Ref(m.name) for m in members)
        if s.tensor_kwargs and s.draw(BOOLS):  # the tensors nested in a list keyword argument
            s.emit(target, (), (("tensors", tensors),) + ((("dim", dim),) if dim else ()))
            return
        s.emit(target, *s.by_keyword((tensors,) + ((dim,) if dim else ()), ["dim"]))

    return OpGen(target, lambda s: s.has(lambda v: numel(v) * 2 <= MAX_NUMEL), emit)


def gen_stack(target: str = "aten.stack.default") -> OpGen:
    def ok_val(v: Val) -> bool:
        return len(v.meta.shape) < 4 and numel(v) * 2 <= MAX_NUMEL

    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        others = s.floats(lambda v: v.meta.shape == x.meta.shape and v.name != x.name)
        y = s.choose(others) if others and not s.draw(BOOLS) else x
        d = s.draw(ints(0, len(x.meta.shape)))
        tensors = (Ref(x.name), Ref(y.name))
        if s.tensor_kwargs and s.draw(BOOLS):  # the tensors nested in a list keyword argument
            s.emit("aten.stack.default", (), (("tensors", tensors),) + ((("dim", d),) if d else ()))
            return
        s.emit("aten.stack.default", *s.by_keyword((tensors,) + ((d,) if d else ()), ["dim"]))

    return OpGen("aten.stack.default", lambda s: s.has(ok_val), emit)


def gen_split(target: str = "aten.split.Tensor") -> OpGen:
    def ok_val(v: Val) -> bool:
        return any(d >= 2 for d in v.meta.shape)

    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        dims = [i for i, d in enumerate(x.meta.shape) if d >= 2]
        d = dims[s.draw(ints(0, len(dims) - 1))]
        size_n = x.meta.shape[d]
        size = s.draw(ints(max(1, -(-size_n // 8)), size_n - 1))
        chunks = -(-size_n // size)
        split = s.emit("aten.split.Tensor", (Ref(x.name), size) + ((d,) if d else ()), operand=False)
        picked = sorted(s.draw(st.lists(st.integers(0, chunks - 1), min_size=1, max_size=chunks, unique=True)))
        before = math.prod(x.meta.shape[:d])
        for i in picked:
            s.emit("getitem", (Ref(split), i), contiguous=x.contiguous and before == 1)

    return OpGen("aten.split.Tensor", lambda s: s.has(ok_val), emit)


def gen_view(target: str) -> OpGen:
    need_contig = target == "aten.view.default"

    def ok_val(v: Val) -> bool:
        return (v.contiguous or not need_contig) and bool(reshape_targets(v.meta.shape))

    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        shape = s.pick(reshape_targets(x.meta.shape))
        if len(shape) > 1 and s.draw(BOOLS):
            i = s.draw(ints(0, len(shape) - 1))
            shape = shape[:i] + (-1,) + shape[i + 1 :]
        args, kwargs = s.by_keyword((Ref(x.name), tuple(shape)), ["size" if need_contig else "shape"])
        s.emit(target, args, kwargs, contiguous=x.contiguous)

    return OpGen(target, lambda s: s.has(ok_val), emit)


def gen_permute(target: str = "aten.permute.default") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        dims = tuple(s.draw(st.permutations(range(len(x.meta.shape)))))
        s.emit("aten.permute.default", *s.by_keyword((Ref(x.name), dims), ["dims"]),
               contiguous=x.contiguous and permuted_contiguous(x.meta.shape, dims))

    return OpGen("aten.permute.default", lambda s: s.has(lambda v: len(v.meta.shape) >= 2), emit)


def gen_flatten(target: str = "aten.flatten.using_ints") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        rank = len(x.meta.shape)
        start = s.draw(ints(0, rank - 2))
        end = s.pick([-1] + list(range(start + 1, rank - 1)))
        s.emit("aten.flatten.using_ints", (Ref(x.name),) + default_trimmed([start, end], [0, -1]),
               contiguous=x.contiguous)

    return OpGen("aten.flatten.using_ints", lambda s: s.has(lambda v: len(v.meta.shape) >= 2), emit)


def _is_nchw(v: Val) -> bool:
    return len(v.meta.shape) == 4 and v.meta.shape[1] <= 16


def gen_conv2d(target: str = "aten.conv2d.default") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(_is_nchw))
        n, c, h, w = x.meta.shape
        k = s.pick([1, 3]) if min(h, w) >= 3 else 1
        stride = s.pick([1, 2]) if min(h, w) >= 2 else 1
        pad = s.pick([0, k // 2]) if k > 1 else 0
        out = s.pick([4, 8])
        groups = c if s.draw(BOOLS) and c > 1 else 1  # depthwise
        if groups > 1:
            out = c
        weight = s.attr("conv2d_weight", (out, c // groups, k, k), "parameter")
        bias = s.attr("conv2d_bias", (out,), "parameter", reuse=False) if s.draw(BOOLS) else None
        args = [Ref(x.name), Ref(weight), Ref(bias) if bias else None, (stride, stride), (pad, pad), (1, 1), groups]
        s.emit("aten.conv2d.default", default_trimmed(args, [None, (1, 1), (0, 0), (1, 1), 1]))

    return OpGen("aten.conv2d.default", lambda s: s.has(_is_nchw), emit)


def gen_linear(target: str = "aten.linear.default") -> OpGen:
    def ok_val(v: Val) -> bool:
        return 1 <= len(v.meta.shape) <= 4 and v.meta.shape[-1] <= 64

    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        out = s.pick([8, 4, 16])
        weight = s.attr("linear_weight", (out, x.meta.shape[-1]), "parameter")
        bias = s.attr("linear_bias", (out,), "parameter", reuse=False) if s.draw(BOOLS) else None
        s.emit("aten.linear.default", (Ref(x.name), Ref(weight)) + ((Ref(bias),) if bias else ()))

    return OpGen("aten.linear.default", lambda s: s.has(ok_val), emit)


def _pool_ok(v: Val) -> bool:
    return len(v.meta.shape) == 4 and min(v.meta.shape[2:]) >= 2


def gen_pool(target: str) -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(_pool_ok))
        k = s.pick([2, 3]) if min(x.meta.shape[2:]) >= 3 else 2
        stride = s.pick([k, 1])
        pad = s.pick([0, 1]) if k == 3 else 0
        args = [Ref(x.name), (k, k), (stride, stride), (pad, pad)]
        if target == "aten.max_pool2d.default" and s.later_ops and s.draw(BOOLS):  # ceil_mode=True (GoogLeNet)
            s.emit(target, (*args, (1, 1), True))
            return
        s.emit(target, default_trimmed(args, [(k, k), (0, 0)]))

    return OpGen(target, lambda s: s.has(_pool_ok), emit)


def gen_adaptive(target: str = "aten.adaptive_avg_pool2d.default") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) == 4))
        size = s.pick([1, 2])
        s.emit("aten.adaptive_avg_pool2d.default", (Ref(x.name), (size, size)))

    return OpGen("aten.adaptive_avg_pool2d.default", lambda s: s.has(lambda v: len(v.meta.shape) == 4), emit)


def gen_mean(target: str = "aten.mean.dim") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        rank = len(x.meta.shape)
        dims = s.pick([(-1,), (-1, -2), (rank - 1,)] + ([(2, 3)] if rank == 4 else []))
        # keep at least one dim: no generated value is 0-dimensional
        keep = s.draw(BOOLS) or len(dims) >= rank
        s.emit("aten.mean.dim", *s.by_keyword((Ref(x.name), dims) + ((True,) if keep else ()), ["dim", "keepdim"]))

    return OpGen("aten.mean.dim", lambda s: s.has(lambda v: len(v.meta.shape) >= 2), emit)


def gen_softmax(target: str = "aten.softmax.int") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats())
        s.emit("aten.softmax.int", (Ref(x.name), s.pick([-1, 0])))

    return OpGen("aten.softmax.int", _any_float, emit)


def gen_layer_norm(target: str = "aten.layer_norm.default") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        last = x.meta.shape[-1]
        affine = s.draw(BOOLS)
        w = s.attr("layer_norm_weight", (last,), "parameter", reuse=False) if affine else None
        b = s.attr("layer_norm_bias", (last,), "parameter", reuse=False) if affine else None
        if affine and s.tensor_kwargs and s.draw(BOOLS):
            s.emit("aten.layer_norm.default", (Ref(x.name), (last,)), (("weight", Ref(w)), ("bias", Ref(b))))
            return
        args = [Ref(x.name), (last,), Ref(w) if w else None, Ref(b) if b else None, 1e-05, False]
        s.emit("aten.layer_norm.default", default_trimmed(args, [None, None, 1e-05, True]))

    return OpGen("aten.layer_norm.default", lambda s: s.has(lambda v: len(v.meta.shape) >= 2), emit)


def gen_matmul(target: str, rank: int) -> OpGen:
    def ok_val(v: Val) -> bool:
        return len(v.meta.shape) == rank and v.meta.shape[-1] <= 64

    def square(v: Val) -> bool:
        return ok_val(v) and v.meta.shape[-2] == v.meta.shape[-1]

    def emit(s: GraphState) -> None:
        squares = s.floats(square) if s.later_ops else []
        if squares and s.seldom():  # ``x @ x``: one value, both operands (one edge);
            # the quantizer vocabulary only (the prepare campaign's cases are drawn as before)
            a = s.choose(squares)
            s.emit(target, (Ref(a.name), Ref(a.name)))
            return
        a = s.choose(s.floats(ok_val))
        k = a.meta.shape[-1]
        batch = a.meta.shape[:-2]
        others = s.floats(lambda v: len(v.meta.shape) == rank and v.meta.shape[:-2] == batch
                          and v.meta.shape[-2] == k and v.meta.shape[-1] <= 64)
        if others and s.draw(BOOLS):
            b = s.choose(others).name
        else:
            b = s.attr(f"{base_name(target)}_weight", batch + (k, s.pick([8, 4])), "parameter")
        s.emit(target, (Ref(a.name), Ref(b)))

    return OpGen(target, lambda s: s.has(ok_val), emit)


def gen_inplace(target: str) -> OpGen:
    def emit(s: GraphState) -> None:
        src = s.choose(s.floats())
        buf = s.attr("buf", src.meta.shape, s.attr_kind(("buffer",)))
        # like torch.export: the in-place node's own value is never used
        s.emit(target, (Ref(buf), Ref(src.name)), operand=False)

    return OpGen(target, _any_float, emit)
