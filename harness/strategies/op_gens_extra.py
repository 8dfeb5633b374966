"""More op generators of real quantizers' vocabulary (issue 14): boolean logic, index ops reading an int64 buffer
of indices (values 0 and 1, what ``harness.fx.build`` gives an integer tensor), tensor creation, multi-output ops
with their ``getitem`` users (``torch.sort``, ``torch.min(x, dim)``, pooling with indices), dtype conversion and
the rarer shape ops. The rule is that of :mod:`harness.strategies.op_gens`; each factory takes the op's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.case import Const, Ref
from harness.strategies.gen_base import OpGen, Val, numel
from harness.strategies.op_gens_more import on_value, rank_is
from harness.strategies.reuse import BOOLS, ints
from harness.strategies.shapes import MAX_NUMEL

if TYPE_CHECKING:
    from harness.strategies.graph_state import GraphState

__all__ = [
    "gen_logic", "gen_where_scalar", "gen_index", "gen_creation", "gen_multi", "gen_shape_op", "gen_pair",
    "gen_to", "gen_contiguous", "gen_instance_norm", "gen_pool3d", "gen_im2col", "gen_grid_sampler",
]


def _bools(s: "GraphState") -> list[Val]:
    return [v for v in s.vals if v.meta.dtype == "bool"]


def gen_logic(target: str) -> OpGen:
    """``a & b``, ``a | b``, ``a ^ b``, ``torch.logical_and(a, b)``, ``torch.bitwise_or(a, b)`` of conditions."""

    def emit(s: "GraphState") -> None:
        a = s.choose(_bools(s))
        same = [v for v in _bools(s) if v.meta.shape == a.meta.shape]
        s.emit(target, (Ref(a.name), Ref(s.choose(same).name)))

    return OpGen(target, lambda s: bool(_bools(s)), emit)


def gen_where_scalar(target: str) -> OpGen:
    """``torch.where(cond, 0.0, x)`` on a condition computed before."""

    def emit(s: "GraphState") -> None:
        cond = s.choose(_bools(s))
        same = s.floats(lambda v: v.meta.shape == cond.meta.shape)
        x = s.choose(same).name if same else s.attr("where_value", cond.meta.shape, "buffer")
        s.emit(target, (Ref(cond.name), s.pick([0.0, 1.0]), Ref(x)))

    return OpGen(target, lambda s: bool(_bools(s)), emit)


def gen_index(target: str) -> OpGen:
    """``torch.gather(x, d, idx)``, ``x.index_select(d, idx)``, ``x[idx]``, ``x.scatter(d, idx, src)``,
    ``x.scatter_add``, ``x.scatter_reduce(..., "amax")``, ``x.index_copy(0, idx, src)``, ``x.index_put((idx,), v)``
    with an int64 buffer of indices; ``slice_scatter(x, src, d, start, end)``."""
    op = target.split(".")[1]

    def make(s: "GraphState", x: Val) -> None:
        shape = x.meta.shape
        d = s.pick([i for i, n in enumerate(shape) if n >= 2])
        if op == "slice_scatter":
            src = s.attr("slice_scatter_src", shape[:d] + (1,) + shape[d + 1:], "buffer")
            s.emit(target, (Ref(x.name), Ref(src), d, 0, 1))
            return
        part = shape[:d] + (2,) + shape[d + 1:]
        if op in ("index_select", "index", "index_copy", "index_put"):
            d = 0 if op in ("index", "index_put") else d
            part = shape[:d] + (2,) + shape[d + 1:]
            idx = Ref(s.index_buffer((2,)))
        else:
            idx = Ref(s.index_buffer(part))
        if op == "gather":
            s.emit(target, (Ref(x.name), d, idx))
        elif op == "index_select":
            s.emit(target, (Ref(x.name), d, idx))
        elif op == "index":
            s.emit(target, (Ref(x.name), (idx,)))
        elif op == "index_put":
            s.emit(target, (Ref(x.name), (idx,), Ref(s.attr("index_put_values", part, "buffer"))))
        elif op == "index_copy":
            s.emit(target, (Ref(x.name), d, idx, Ref(s.attr("index_copy_source", part, "buffer"))))
        elif target == "aten.scatter.value":
            s.emit(target, (Ref(x.name), d, idx, s.pick([1.0, 0.0])))
        else:
            src = Ref(s.attr(f"{op}_src", part, "buffer"))
            s.emit(target, (Ref(x.name), d, idx, src) + (("amax",) if op == "scatter_reduce" else ()))

    return on_value(target, lambda v: any(n >= 2 for n in v.meta.shape) and (
        op not in ("index", "index_put") or v.meta.shape[0] >= 2), make)


def gen_creation(target: str) -> OpGen:
    """``torch.zeros(2, 8)``, ``torch.ones``, ``torch.full((2, 8), 2.0)``, ``torch.eye(8)``,
    ``torch.arange(8.0)``, ``torch.arange(0.0, 8.0, 2.0)``, ``torch.linspace(0.0, 1.0, 8)``: no tensor input."""
    op = target.split(".")[1]

    def emit(s: "GraphState") -> None:
        shape = s.pick([(2, 8), (8,), (1, 4, 8, 8)])
        if op in ("zeros", "ones"):
            s.emit(target, (shape,))
        elif op == "full":
            s.emit(target, (shape, s.pick([2.0, 0.5])))
        elif op == "eye":
            s.emit(target, (s.pick([8, 4]),))
        elif op == "linspace":
            s.emit(target, (0.0, 1.0, s.pick([8, 4])))
        elif target == "aten.arange.default":
            s.emit(target, (s.pick([8.0, 4.0]),))
        elif target == "aten.arange.start":
            s.emit(target, (0.0, s.pick([8.0, 4.0])))
        else:
            s.emit(target, (0.0, 16.0, 2.0))

    return OpGen(target, lambda s: True, emit)


def gen_multi(target: str) -> OpGen:
    """Multi-output ops read through ``getitem`` (values and int64 indices): ``torch.sort(x, d)``,
    ``torch.min(x, d)``, ``F.adaptive_max_pool2d(x, 1, return_indices=True)``,
    ``F.max_pool2d(x, 2, return_indices=True)``."""
    op = target.split(".")[1]

    def make(s: "GraphState", x: Val) -> None:
        rank = len(x.meta.shape)
        if op == "sort":
            node = s.emit(target, (Ref(x.name),) + ((s.draw(ints(0, rank - 1)),) if s.draw(BOOLS) else ()),
                          operand=False)
        elif op == "min":
            node = s.emit(target, (Ref(x.name), s.draw(ints(0, rank - 1))) + ((True,) if s.draw(BOOLS) else ()),
                          operand=False)
        elif op == "adaptive_max_pool2d":
            size = s.pick([1, 2])
            node = s.emit(target, (Ref(x.name), (size, size)), operand=False)
        else:
            node = s.emit(target, (Ref(x.name), (2, 2), (2, 2)), operand=False)
        for i in sorted(set(s.pick([(0,), (0, 1)]))):
            s.emit("getitem", (Ref(node), i))

    ok = rank_is(4) if "pool" in op else rank_is(2, 3, 4)
    return on_value(target, lambda v: ok(v) and min(v.meta.shape[-2:]) >= 2, make)


def gen_shape_op(target: str) -> OpGen:
    """``x.narrow(d, 1, 2)``, ``x.unflatten(d, (2, n // 2))``, ``x.repeat_interleave(2, d)``, ``x.tile``,
    ``F.glu(x, d)``, ``F.channel_shuffle(x, 2)``, ``x.cumsum(d)``, ``x.flip(d)``, ``torch.movedim(x, a, b)``,
    ``torch.moveaxis``, ``x.swapaxes(a, b)``, ``x.var(d)``, ``torch.linalg.vector_norm(x, 2, d)``,
    ``x.round(decimals=2)``, ``torch.full_like(x, 2.0)``."""
    op = target.split(".")[1]
    if target.endswith(".intlist"):
        op = "movedim_list"
    corrected = target == "aten.var.correction"
    if corrected:
        op = "var"

    def make(s: "GraphState", x: Val) -> None:
        rank = len(x.meta.shape)
        even = [i for i, n in enumerate(x.meta.shape) if n % 2 == 0 and n >= 2]
        big = [i for i, n in enumerate(x.meta.shape) if n >= 2]
        d = s.pick(even) if op in ("narrow", "unflatten", "glu") else s.pick(big) if op == "var" else s.draw(
            ints(0, rank - 1))
        n = x.meta.shape[d]
        args: tuple = {
            "narrow": (d, 1, n // 2), "unflatten": (d, (2, n // 2)), "repeat_interleave": (2, d),
            "tile": (tuple(2 if i == d else 1 for i in range(rank)),), "glu": (d,), "channel_shuffle": (2,),
            "cumsum": (d,), "flip": ((d,),), "movedim": (d, rank - 1 - d), "moveaxis": (d, rank - 1 - d),
            "swapaxes": (d, rank - 1 - d), "var": ((d,),), "movedim_list": ((d,), (rank - 1 - d,)),
            "linalg_vector_norm": (2.0, (d,)), "round": (),
            "full_like": (s.pick([2.0, 0.0]),), "clamp_min": (s.pick([0.0, -1.0]),),
            "clamp_max": (s.pick([0.0, 6.0]),), "remainder": (s.pick([2.0, 0.5]),),
        }[op]
        kwargs = (("decimals", 2),) if op == "round" else (("correction", s.pick([0, 1])),) if corrected else ()
        view = op in ("narrow", "unflatten", "movedim", "moveaxis", "swapaxes", "movedim_list")
        s.emit(target, (Ref(x.name),) + args, kwargs, contiguous=None if not view else op == "unflatten"
               and x.contiguous)

    def ok(v: Val) -> bool:
        shape = v.meta.shape
        if op in ("narrow", "unflatten", "glu"):
            return any(n % 2 == 0 and n >= 2 for n in shape) and len(shape) <= (3 if op == "unflatten" else 4)
        if op == "channel_shuffle":
            return len(shape) == 4 and shape[1] % 2 == 0
        if op in ("repeat_interleave", "tile"):
            return numel(v) * 2 <= MAX_NUMEL
        if op == "var":
            return any(n >= 2 for n in shape) and len(shape) >= 2  # never down to a 0-dim value
        if op == "linalg_vector_norm":
            return len(shape) >= 2
        return len(shape) >= (2 if op in ("movedim", "moveaxis", "swapaxes", "movedim_list") else 1)

    return on_value(target, ok, make)


def gen_pair(target: str) -> OpGen:
    """Two-operand ops: ``F.cosine_similarity(x, y)``, ``torch.cdist(x, y)``, ``torch.einsum("ij,kj->ik", x, y)``,
    ``x.expand_as(y)``, ``x.view_as(y)``, ``torch.clamp(x, min=y)``, ``torch.rsub(x, y)``, ``torch.max(x, y)``,
    ``torch.min(x, y)``, ``x // y``, ``x % y``, ``torch.div(x, y, rounding_mode="floor")``, ``torch.divide``,
    in-place ``x.sub_(y)``, ``x.div_(y)`` on a computed value."""
    op = target.split(".")[1]

    def make(s: "GraphState", x: Val) -> None:
        shape = x.meta.shape
        if op == "view_as":
            target_shape = s.pick([sh for sh in ((numel(x),), (1, numel(x)))])
            y = s.attr("view_as_other", target_shape, "buffer")
            s.emit(target, (Ref(x.name), Ref(y)), contiguous=x.contiguous)
            return
        if op == "expand_as":
            y = s.attr("expand_as_other", (2,) + shape, "buffer")
            s.emit(target, (Ref(x.name), Ref(y)), contiguous=False)
            return
        others = s.floats(lambda v: v.meta.shape == shape and v.name != x.name)
        y = s.choose(others).name if others and s.draw(BOOLS) else s.attr(f"{op}_other", shape, "buffer")
        if op == "einsum":
            s.emit(target, ("ij,kj->ik", (Ref(x.name), Ref(y))))
        elif op == "div" and target.endswith("Tensor_mode"):
            s.emit(target, (Ref(x.name), Ref(y)), (("rounding_mode", s.pick(["floor", "trunc"])),))
        elif op in ("sub_", "div_"):
            if s.writable(x):
                s.emit(target, (Ref(x.name), Ref(y)), contiguous=x.contiguous)
            else:
                s.emit(target.replace("_.", "."), (Ref(x.name), Ref(y)))
        else:
            s.emit(target, (Ref(x.name), Ref(y)))

    def ok(v: Val) -> bool:
        if op == "einsum":
            return len(v.meta.shape) == 2
        if op == "cdist":
            return len(v.meta.shape) in (2, 3)
        if op == "cosine_similarity":  # its default dim is 1
            return len(v.meta.shape) >= 2
        if op == "expand_as":
            return numel(v) * 2 <= MAX_NUMEL and len(v.meta.shape) < 4
        if op == "view_as":
            return v.contiguous
        return True

    if op in ("sub_", "div_"):
        return OpGen(target, lambda s: s.has(s.maybe_writable),
                     lambda s: make(s, s.choose(s.floats(s.maybe_writable))))
    return on_value(target, ok, make)


def gen_to(target: str) -> OpGen:
    """``x.to(torch.float16)``, ``x.to(torch.int32)``: a value of another dtype."""
    return on_value(target, lambda v: True, lambda s, x: s.emit(
        target, (Ref(x.name), Const("dtype", s.pick(["float16", "int32", "bfloat16"])))))


def gen_contiguous(target: str) -> OpGen:
    """``x.t().contiguous()``: of a value that is not contiguous."""
    return on_value(target, lambda v: not v.contiguous, lambda s, x: s.emit(target, (Ref(x.name),), contiguous=True))


def gen_instance_norm(target: str) -> OpGen:
    """``nn.InstanceNorm1d/2d(C)`` (``affine`` or not; no running statistics)."""

    def make(s: "GraphState", x: Val) -> None:
        c = x.meta.shape[1]
        affine = s.draw(BOOLS)
        w = Ref(s.attr("instance_norm_weight", (c,), "parameter", reuse=False)) if affine else None
        b = Ref(s.attr("instance_norm_bias", (c,), "parameter", reuse=False)) if affine else None
        s.emit(target, (Ref(x.name), w, b, None, None, True, 0.1, 1e-05, False))

    return on_value(target, lambda v: len(v.meta.shape) in (3, 4) and min(v.meta.shape[2:]) >= 2, make)


def gen_pool3d(target: str) -> OpGen:
    """``F.avg_pool3d(x, (1, 2, 2))``, ``F.adaptive_avg_pool3d(x, 1)`` of 5-d values."""

    def make(s: "GraphState", x: Val) -> None:
        if target == "aten.adaptive_avg_pool3d.default":
            s.emit(target, (Ref(x.name), (1, s.pick([1, 2]), s.pick([1, 2]))))
            return
        k = tuple(2 if n >= 2 else 1 for n in x.meta.shape[2:])
        s.emit(target, (Ref(x.name), k))

    return on_value(target, lambda v: len(v.meta.shape) == 5 and min(v.meta.shape[3:]) >= 2, make)


def gen_im2col(target: str) -> OpGen:
    """``F.unfold(x, 2)`` (``im2col``) of 4-d values."""
    return on_value(target, lambda v: len(v.meta.shape) == 4 and min(v.meta.shape[2:]) >= 2, lambda s, x: s.emit(
        target, (Ref(x.name), (2, 2), (1, 1), (0, 0), s.pick([(1, 1), (2, 2)]))))


def gen_grid_sampler(target: str) -> OpGen:
    """``F.grid_sample(x, grid, align_corners=False)`` with a grid buffer."""

    def make(s: "GraphState", x: Val) -> None:
        grid = s.attr("grid", (x.meta.shape[0], 4, 4, 2), "buffer")
        s.emit(target, (Ref(x.name), Ref(grid), s.pick([0, 1]), 0, False))

    return on_value(target, rank_is(4), make)
