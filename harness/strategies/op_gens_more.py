"""Op generators for the vocabulary of real quantizers beyond the first ops (issue 14): activations with their
arguments, in-place activations, scalars as operands, comparisons, where, reductions and views. The ops with
weights and the spatial ones are in :mod:`harness.strategies.op_gens_weights`.

The rule is that of :mod:`harness.strategies.op_gens`: a generator applies only to a graph holding a value it
accepts, and draws the op as ``torch.export`` writes the program spelling of its entry (trailing default arguments
left out). Each factory takes the op's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from harness.case import Ref
from harness.strategies.gen_base import OpGen, Val, default_trimmed, numel
from harness.strategies.reuse import BOOLS, ints
from harness.strategies.shapes import MAX_NUMEL

if TYPE_CHECKING:
    from harness.strategies.graph_state import GraphState

__all__ = [
    "gen_act", "gen_scalar_binary", "gen_compare", "gen_reduce", "gen_unsqueeze", "gen_squeeze", "gen_transpose",
    "gen_slice", "gen_select", "gen_expand", "gen_repeat", "gen_where", "gen_movedim", "gen_log_softmax",
    "gen_dropout", "gen_inplace_act", "rank_is", "on_value", "gen_positive",
]


def on_value(target: str, pred: Callable[[Val], bool], make: Callable[["GraphState", Val], None]) -> OpGen:
    def emit(s: "GraphState") -> None:
        make(s, s.choose(s.floats(pred)))

    return OpGen(target, lambda s: s.has(pred), emit)


def rank_is(*ranks: int) -> Callable[[Val], bool]:
    return lambda v: len(v.meta.shape) in ranks


# ---- elementwise -------------------------------------------------------------------------------

_ACT_ARGS: dict[str, list[tuple]] = {
    "aten.gelu.default": [(), ("tanh",)],
    "aten.leaky_relu.default": [(), (0.1,), (0.2,)],
    "aten.elu.default": [(), (0.5,)],
    "aten.clamp.default": [(-1.0, 1.0), (0.0,), (None, 6.0)],
    "aten.pow.Tensor_Scalar": [(2,), (3,)],
    "aten.dropout.default": [(0.5, False), (0.1, False)],
    "aten.fill.Scalar": [(0.5,), (0.0,)],
}
_KEYWORD = {"aten.gelu.default": ("approximate",)}


def gen_act(target: str) -> OpGen:
    """A unary op with its drawn arguments (``F.gelu(x, approximate="tanh")``, ``F.leaky_relu(x, 0.1)``)."""

    def make(s: "GraphState", x: Val) -> None:
        extra = s.pick(_ACT_ARGS.get(target, [()]))
        if target in _KEYWORD and extra:
            s.emit(target, (Ref(x.name),), tuple(zip(_KEYWORD[target], extra)))
            return
        s.emit(target, (Ref(x.name),) + extra)

    return on_value(target, lambda v: True, make)


def gen_inplace_act(target: str) -> OpGen:
    """An in-place activation (``F.silu(y, inplace=True)``) on a computed value it may write; else its
    out-of-place form."""

    def make(s: "GraphState", x: Val) -> None:
        extra = s.pick(_ACT_ARGS.get(target.replace("_.", "."), [()]))
        s.emit(target if s.writable(x) else target.replace("_.", "."), (Ref(x.name),) + extra,
               contiguous=x.contiguous)

    return OpGen(target, lambda s: s.has(s.maybe_writable), lambda s: make(s, s.choose(s.floats(s.maybe_writable))))


def gen_scalar_binary(target: str) -> OpGen:
    """``x - y``, ``x / 2.0``, ``1.0 - x`` (rsub), ``torch.maximum(x, y)``: a value, an attribute or a scalar."""
    scalar_only = target.endswith(".Scalar")

    def make(s: "GraphState", x: Val) -> None:
        others = s.floats(lambda v: v.meta.shape == x.meta.shape and v.name != x.name)
        modes = ["scalar"] if scalar_only else (["value"] if others else []) + ["scalar", "attr", "same"]
        mode = s.pick(modes)
        if mode == "scalar" and target != "aten.maximum.default":
            other: object = s.pick([1.0, 2.0, 0.5])
        elif mode == "value":
            other = Ref(s.choose(others).name)
        elif mode == "attr" or mode == "scalar":
            other = Ref(s.attr(target.split(".")[1] + "_other", x.meta.shape, s.attr_kind()))
        else:
            other = Ref(x.name)
        s.emit(target, (Ref(x.name), other))

    return on_value(target, lambda v: True, make)


def gen_compare(target: str) -> OpGen:
    """``x > 0`` (a ``.Scalar`` comparison) or ``x > y`` (``.Tensor``): a bool value."""

    def make(s: "GraphState", x: Val) -> None:
        if target.endswith(".Scalar"):
            s.emit(target, (Ref(x.name), s.pick([0.0, 0.5])))
            return
        others = s.floats(lambda v: v.meta.shape == x.meta.shape and v.name != x.name)
        s.emit(target, (Ref(x.name), Ref(s.choose(others).name if others else x.name)))

    return on_value(target, lambda v: True, make)


def _bools(s: "GraphState") -> list[Val]:
    return [v for v in s.vals if v.meta.dtype == "bool"]


def gen_where(target: str) -> OpGen:
    """``torch.where(x > 0, x, y)`` (``where.self``) or ``x.masked_fill(x > 0, 0.0)`` on a condition computed
    before (a comparison); ``x`` and ``y`` values of its shape, else attributes."""

    def operand(s: "GraphState", shape: tuple[int, ...], avoid: str = "") -> str:
        same = s.floats(lambda v: v.meta.shape == shape and v.name != avoid)
        return s.choose(same).name if same and not s.draw(BOOLS) else s.attr(f"{target.split('.')[1]}_value", shape,
                                                                                 "buffer")

    def emit(s: "GraphState") -> None:
        cond = s.choose(_bools(s))
        x = operand(s, cond.meta.shape)
        if target == "aten.masked_fill.Scalar":
            s.emit(target, (Ref(x), Ref(cond.name), s.pick([0.0, -1.0])))
            return
        s.emit(target, (Ref(cond.name), Ref(x), Ref(operand(s, cond.meta.shape, x))))

    return OpGen(target, lambda s: bool(_bools(s)), emit)


# values in (0, 1), where ops with a restricted domain (log, sqrt, acos, erfinv, logit...) stay finite
_OPEN_UNIT = frozenset({"aten.sigmoid.default", "aten.softmax.int"})


def gen_positive(target: str) -> OpGen:
    """An op defined on (0, 1) (``torch.log``, ``torch.sqrt``, ``torch.acos``, ``torch.logit``, ``x ** y``...) of
    a sigmoid or softmax output; its in-place form (``log_``) on one it may write, else the out-of-place one."""
    inplace = target.split(".")[1].endswith("_")

    def unit(s: "GraphState"):
        return lambda v: s.targets.get(v.name) in _OPEN_UNIT and (not inplace or s.maybe_writable(v))

    def emit(s: "GraphState") -> None:
        x = s.choose(s.floats(unit(s)))
        if target == "aten.pow.Tensor_Tensor":
            others = s.floats(lambda v: v.meta.shape == x.meta.shape)
            s.emit(target, (Ref(x.name), Ref(s.choose(others).name)))
            return
        s.emit(target if not inplace or s.writable(x) else target.replace("_.", "."), (Ref(x.name),),
               contiguous=x.contiguous)

    return OpGen(target, lambda s: s.has(unit(s)), emit)


# ---- reductions, softmax -----------------------------------------------------------------------


def gen_reduce(target: str) -> OpGen:
    """``x.sum(-1, keepdim=True)``, ``x.amax((2, 3))``, ``x.argmax(1)``: never down to a 0-dim value."""
    one_dim = target.startswith("aten.arg")

    def make(s: "GraphState", x: Val) -> None:
        rank = len(x.meta.shape)
        dims = s.pick([-1, 0, rank - 1] if one_dim else [(-1,), (1,), (-1, -2)] + ([(2, 3)] if rank == 4 else []))
        keep = s.draw(BOOLS) or (not one_dim and len(dims) >= rank)
        s.emit(target, (Ref(x.name), dims) + ((True,) if keep else ()))

    return on_value(target, rank_is(2, 3, 4), make)


def gen_log_softmax(target: str) -> OpGen:
    return on_value(target, lambda v: True, lambda s, x: s.emit(target, (Ref(x.name), s.pick([-1, 0]))))


def gen_dropout(target: str) -> OpGen:
    """``F.dropout(x, p, training=False)`` (an eval-mode dropout, which computes the identity)."""
    return gen_act(target)


# ---- views -------------------------------------------------------------------------------------


def gen_unsqueeze(target: str) -> OpGen:
    def make(s: "GraphState", x: Val) -> None:
        s.emit(target, (Ref(x.name), s.draw(ints(0, len(x.meta.shape)))), contiguous=x.contiguous)

    return on_value(target, lambda v: len(v.meta.shape) <= 4, make)


def _ones(v: Val) -> list[int]:
    return [i for i, d in enumerate(v.meta.shape) if d == 1]


def gen_squeeze(target: str) -> OpGen:
    """``squeeze.dim`` of a size-1 dim, ``squeeze.dims``, ``squeeze.default``: never down to a 0-dim value."""

    def make(s: "GraphState", x: Val) -> None:
        d = s.pick(_ones(x))
        arg = () if target == "aten.squeeze.default" else (d,) if target == "aten.squeeze.dim" else ((d,),)
        s.emit(target, (Ref(x.name),) + arg, contiguous=x.contiguous)

    return on_value(target, lambda v: bool(_ones(v)) and len(v.meta.shape) > len(_ones(v)), make)


def gen_transpose(target: str) -> OpGen:
    def make(s: "GraphState", x: Val) -> None:
        if target == "aten.t.default":
            s.emit(target, (Ref(x.name),), contiguous=False)
            return
        rank = len(x.meta.shape)
        a = s.draw(ints(0, rank - 2))
        b = s.draw(ints(a + 1, rank - 1))
        s.emit(target, (Ref(x.name), a, b - rank if s.draw(BOOLS) else b), contiguous=False)

    return on_value(target, rank_is(2) if target == "aten.t.default" else rank_is(2, 3, 4), make)


def gen_movedim(target: str) -> OpGen:
    def make(s: "GraphState", x: Val) -> None:
        rank = len(x.meta.shape)
        s.emit(target, (Ref(x.name), s.draw(ints(0, rank - 1)), s.draw(ints(0, rank - 1))), contiguous=False)

    return on_value(target, rank_is(2, 3, 4), make)


def gen_slice(target: str) -> OpGen:
    """``x[:, 1:5]``, ``x[..., ::2]``: a slice of a dim of size 2 or more."""

    def make(s: "GraphState", x: Val) -> None:
        dims = [i for i, n in enumerate(x.meta.shape) if n >= 2]
        d = s.pick(dims)
        n = x.meta.shape[d]
        start = s.draw(ints(0, n - 1))
        end = s.draw(ints(start + 1, n))
        step = s.pick([1, 2])
        args = default_trimmed([Ref(x.name), d, start, end, step], [0, None, None, 1])
        s.emit(target, args, contiguous=x.contiguous and d == 0 and step == 1)

    return on_value(target, lambda v: any(n >= 2 for n in v.meta.shape), make)


def gen_select(target: str) -> OpGen:
    def make(s: "GraphState", x: Val) -> None:
        d = s.draw(ints(0, len(x.meta.shape) - 1))
        s.emit(target, (Ref(x.name), d, s.draw(ints(0, x.meta.shape[d] - 1))), contiguous=x.contiguous and d == 0)

    return on_value(target, rank_is(2, 3, 4), make)


def gen_expand(target: str) -> OpGen:
    """``x.expand(3, *x.shape)`` or a size-1 dim expanded."""

    def make(s: "GraphState", x: Val) -> None:
        ones = _ones(x)
        if ones and s.draw(BOOLS):
            size = tuple(4 if i == ones[0] else -1 for i in range(len(x.meta.shape)))
        else:
            size = (2,) + tuple(x.meta.shape)
        s.emit(target, (Ref(x.name), size), contiguous=False)

    return on_value(target, lambda v: len(v.meta.shape) < 4 and numel(v) * 4 <= MAX_NUMEL, make)


def gen_repeat(target: str) -> OpGen:
    def make(s: "GraphState", x: Val) -> None:
        reps = [1] * len(x.meta.shape)
        reps[s.draw(ints(0, len(reps) - 1))] = 2
        s.emit(target, (Ref(x.name), tuple(reps)))

    return on_value(target, lambda v: numel(v) * 2 <= MAX_NUMEL, make)
