"""Op generators for the IR shapes beyond the basic ops: multi-output ops with ``getitem`` users, in-place ops on
activations and on attributes.

The rule: a multi-output op (``unbind``, ``chunk``, ``split_with_sizes``, ``topk``, ``max.dim``) is never an
operand itself: consumers read its elements through ``getitem`` nodes (one or more, as ``torch.export`` writes
them; ``topk``/``max.dim`` also give int64 indices). An in-place op on an activation (``relu_``, ``hardtanh_``,
``mul_``, ``add_`` on a computed value) gives a value later ops may consume, as it aliases its first argument
(never a graph input, the caller's tensor, nor a piece of ``split`` & co., which autograd forbids writing); an in-place op on a buffer or a
constant (``mul_``) is a state update whose value nobody uses.
Every value is computed with its shape rule as it is drawn (``GraphState.emit``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from harness.case import Ref
from harness.strategies.gen_base import OpGen, Val, default_trimmed
from harness.strategies.reuse import BOOLS, ints

if TYPE_CHECKING:
    from harness.strategies.graph_state import GraphState

__all__ = [
    "gen_chunk", "gen_inplace_binary", "gen_inplace_unary", "gen_max_dim", "gen_split_with_sizes", "gen_topk",
    "gen_unbind",
]

_MAX_PIECES = 4  # getitems drawn per multi-output node, at most


def _dims(v: Val, least: int = 2) -> list[int]:
    return [i for i, d in enumerate(v.meta.shape) if d >= least]


def _getitems(s: GraphState, node: str, n: int, contiguous: bool) -> None:
    """One or more ``getitem`` users of the multi-output ``node`` (of ``n`` elements), in index order."""
    picked = sorted(s.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=min(n, _MAX_PIECES), unique=True)))
    for i in picked:
        s.emit("getitem", (Ref(node), i), contiguous=contiguous)


def _leading(v: Val, d: int) -> bool:
    """Whether a piece of ``v`` along ``d`` stays contiguous (``v`` contiguous, nothing before ``d`` but 1s)."""
    return v.contiguous and math.prod(v.meta.shape[:d]) == 1


def gen_unbind(target: str = "aten.unbind.int") -> OpGen:
    def ok_val(v: Val) -> bool:
        return len(v.meta.shape) >= 2 and any(1 < d <= 8 for d in v.meta.shape)

    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        dims = [i for i, d in enumerate(x.meta.shape) if 1 < d <= 8]
        d = s.pick(dims)
        node = s.emit("aten.unbind.int", (Ref(x.name),) + ((d,) if d else ()), operand=False)
        _getitems(s, node, x.meta.shape[d], _leading(x, d))

    return OpGen("aten.unbind.int", lambda s: s.has(ok_val), emit)


def gen_chunk(target: str = "aten.chunk.default") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(lambda v: bool(_dims(v))))
        d = s.pick(_dims(x))
        size_n = x.meta.shape[d]
        chunks = s.draw(ints(2, min(size_n, 4)))
        node = s.emit("aten.chunk.default", (Ref(x.name), chunks) + ((d,) if d else ()), operand=False)
        size = -(-size_n // chunks)
        _getitems(s, node, -(-size_n // size), _leading(x, d))

    return OpGen("aten.chunk.default", lambda s: s.has(lambda v: bool(_dims(v))), emit)


def gen_split_with_sizes(target: str = "aten.split_with_sizes.default") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(lambda v: bool(_dims(v))))
        d = s.pick(_dims(x))
        size_n = x.meta.shape[d]
        cuts = sorted(s.draw(st.sets(st.integers(1, size_n - 1), min_size=1, max_size=min(size_n - 1, 3))))
        sizes = tuple(b - a for a, b in zip([0] + cuts, cuts + [size_n]))
        node = s.emit("aten.split_with_sizes.default", (Ref(x.name), sizes) + ((d,) if d else ()), operand=False)
        _getitems(s, node, len(sizes), _leading(x, d))

    return OpGen("aten.split_with_sizes.default", lambda s: s.has(lambda v: bool(_dims(v))), emit)


def gen_topk(target: str = "aten.topk.default") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(lambda v: bool(_dims(v))))
        d = s.pick(_dims(x)[::-1])  # the last dim first: topk's default
        k = s.draw(ints(1, min(x.meta.shape[d], 4)))
        rank = len(x.meta.shape)
        args = default_trimmed([Ref(x.name), k, d - rank, s.draw(BOOLS)], [-1, True])
        node = s.emit("aten.topk.default", args, operand=False)
        _getitems(s, node, 2, True)  # values (float) and indices (int64)

    return OpGen("aten.topk.default", lambda s: s.has(lambda v: bool(_dims(v))), emit)


def gen_max_dim(target: str = "aten.max.dim") -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        d = s.draw(ints(0, len(x.meta.shape) - 1))
        keep = s.draw(BOOLS)
        node = s.emit("aten.max.dim", (Ref(x.name), d) + ((True,) if keep else ()), operand=False)
        _getitems(s, node, 2, True)  # values (float) and indices (int64)

    return OpGen("aten.max.dim", lambda s: s.has(lambda v: len(v.meta.shape) >= 2), emit)


def gen_inplace_unary(target: str) -> OpGen:
    def emit(s: GraphState) -> None:
        x = s.choose(s.floats(s.maybe_writable))
        extra = s.pick([(), (0.0, 6.0)]) if target == "aten.hardtanh_.default" else ()
        # a value split & co. took apart is not written in place: the op's out-of-place form computes the same
        s.emit(target if s.writable(x) else target.replace("_.", "."), (Ref(x.name),) + extra,
               contiguous=x.contiguous)

    return OpGen(target, lambda s: s.has(s.maybe_writable), emit)


def gen_inplace_binary(target: str) -> OpGen:
    """``add_``/``mul_`` writing an activation (its value is consumed later) or, drawn second, a buffer or a
    constant (a state update nobody reads)."""

    def emit(s: GraphState) -> None:
        src = s.choose(s.floats())
        if s.writable(src) and s.draw(BOOLS):
            others = s.floats(lambda v: v.meta.shape == src.meta.shape and v.name != src.name)
            other = Ref(s.choose(others).name) if others and s.draw(BOOLS) else Ref(src.name)
            s.emit(target, (Ref(src.name), other), contiguous=src.contiguous)
            return
        dest = s.attr("state", src.meta.shape, s.attr_kind(("buffer",)))
        s.emit(target, (Ref(dest), Ref(src.name)), operand=False)

    return OpGen(target, lambda s: s.has(), emit)
