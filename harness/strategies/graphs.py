"""The graph strategy: random DAGs in the ATen IR that ``torch.export`` produces.

Graphs have 1-3 float placeholders (from :data:`PLACEHOLDER_SHAPES`, chosen so ops compose: NCHW for conv and
pooling, ``[2, 8]``/``[2, 3, 8]`` for linear and matmul, view/reshape/flatten/permute moving between them),
parameters and buffers as ``get_attr`` nodes first (as export orders them), fan-out and fan-in, list arguments
(``cat``, ``stack``), the same node used twice by one op (``add(x, x)``, ``cat([x, x])``), ``split`` with
``getitem`` users (and the other multi-output ops, ``unbind``, ``chunk``, ``split_with_sizes``, ``topk``,
``max.dim``), in-place writes to buffers (``copy_``/``add_`` whose value nobody uses, as in export) and to
activations, and an output of 1-3 values. With ``variants`` (the default) also what a quantizer can meet beyond
``torch.export``'s spelling: list and int arguments passed by keyword, and constants (``get_attr`` of a plain
tensor attribute, not a buffer) when the case format can store them. Each node's value is computed with :data:`harness.strategies.op_table.SHAPE_RULES` while
drawing (and contiguity is tracked, so ``view`` only sees contiguous inputs): every graph builds.

Shrinking: each op is one span ending with its continue flag, ops are listed simplest first, operands shrink to
the most recent value and to distinct values, so failing graphs shrink to a handful of nodes. The op generators
are those of the op table (``harness.strategies.op_table``), the state they append to in
``harness.strategies.graph_state``.
"""

from __future__ import annotations

import functools
from typing import Iterable, Optional, Sequence

from hypothesis import strategies as st

from harness.case import Case, Graph, Node, Ref, TensorMeta
from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.case.jsonform import CaseFormatError
from harness.strategies.gen_base import OpGen
from harness.strategies.graph_state import PLACEHOLDER_SHAPES, GraphState, Val, indices
from harness.strategies.motifs import motif_gens
from harness.strategies.op_table import FAVOURED, GENERATED_OPS, IR_OPS, OP_GENS
from harness.strategies.reuse import BOOLS, ints, reused, spanned

__all__ = ["graphs"]


_CONTINUE = st.integers(0, 15)
_MORE_INPUTS = st.lists(st.sampled_from(PLACEHOLDER_SHAPES), max_size=2)


_FIRST = frozenset(IR_OPS)
FAN_OUT_READS = 2  # the ops after a fanned-out value that take it as their operand


def _op_step(draw, s: GraphState, gens: Sequence[OpGen], motifs: Sequence[OpGen], ask: bool) -> bool:
    """Append one op to ``s`` (or, one time in four when ``motifs`` are given and one applies, a motif: several
    ops, :mod:`harness.strategies.motifs`); then, if ``ask``, draw whether another op follows (one span per op).

    Fan-out, with ``motifs`` (the quantizer campaign's glue): after half the plain ops (none while a fan-out is
    pending), the op's value is the operand the next :data:`FAN_OUT_READS` ops take when they can
    (:attr:`GraphState.focus`, the generators kept to those that can take it), so that a value read by two ops (a
    gate quantizers read as "has several users") is drawn on purpose, not by luck.

    When both the first ops (:data:`IR_OPS`) and later ones of the table may be drawn, a flag picks one of the two
    sets first (each half the time; shrinking goes to the first ops, so a failure shrinks towards the simplest
    ops); with only one of the two, nothing more is drawn (the prepare campaign's cases are drawn as before)."""
    s.draw = draw
    if s.fan_out:
        s.focus = s.fan_out.pop()
    if motifs and s.seldom():
        fit = [m for m in motifs if m.ok(s)]
        if fit:
            s.pick(fit).emit(s)
            return not ask or draw(_CONTINUE) != 0
    ok = s.applicable(gens)
    first = [g for g in ok if g.name in _FIRST]
    if first and len(first) < len(ok) and draw(BOOLS):
        ok = [g for g in ok if g.name not in _FIRST]
    elif first and len(first) < len(ok):
        ok = first
    gen = s.pick(ok + [g for g in ok if g.name in FAVOURED])
    before = len(s.vals)
    gen.emit(s)
    if motifs and not s.fan_out and len(s.vals) > before and s.draw(BOOLS):
        s.fan_out = [s.vals[-1].name] * FAN_OUT_READS
    return not ask or draw(_CONTINUE) != 0


@functools.lru_cache(maxsize=1)
def codec_keeps_constants() -> bool:
    """Whether a case with a constant (``attr_kind="constant"``) survives the JSON codec: only then are constants
    drawn, so every finding can be written to the corpus."""
    probe = Graph((Node("c", "get_attr", "c", tensor=TensorMeta((1,)), attr_kind="constant"),  # type: ignore[arg-type]
                   _output_node(["c"])))
    try:
        return case_from_json(case_to_json(Case(probe, ()))).graph == probe
    except (CaseFormatError, ValueError, TypeError):
        return False


def _output_node(names: Sequence[str]) -> Node:
    return Node("output", "output", args=(tuple(Ref(n) for n in names),))


@reused
@st.composite
def graphs(
    draw,
    min_nodes: int = 1,
    max_nodes: int = 24,
    ops: Optional[Iterable[str]] = None,
    tensor_kwargs: bool = False,
    variants: bool = True,
    motifs: bool = False,
) -> Graph:
    """Random DAGs of ``min_nodes``..``max_nodes`` operator nodes drawn from ``ops`` (default: the table's first
    entries, :data:`IR_OPS`; pass :data:`GENERATED_OPS` for the whole vocabulary of real quantizers, as the quantizer
    campaign does: then half the ops come from the first entries, see :func:`_op_step`).

    Graphs have 1-3 float placeholders and end with an output of 1-3 values (the values nothing uses, newest
    first). With ``tensor_kwargs`` some ops pass a tensor as keyword argument (``add(x, other=y)``,
    ``layer_norm(x, [8], weight=w, bias=b)``), and at least one does: an adversarial feature, since prepare cannot
    observe kwargs. ``variants=False`` keeps to what ``torch.export`` writes for an ordinary module program
    (positional list arguments, parameters and buffers only). With ``motifs``, one step in four draws one of the
    fused patterns quantizers match (:data:`harness.strategies.motifs.MOTIFS`, kept to ``ops``) where an op would
    be: its ops count towards ``max_nodes``, the last one may pass it.
    """
    allowed = set(IR_OPS if ops is None else ops)
    unknown = allowed - set(GENERATED_OPS) - {"getitem"}
    if unknown:
        raise ValueError(f"graphs(): no generator for ops {sorted(unknown)}; known: {list(GENERATED_OPS)}")
    gens = [g for g in OP_GENS if g.name in allowed]
    if not gens:
        raise ValueError("graphs(): no op to draw from")
    patterns = motif_gens(gens) if motifs else ()
    s = GraphState(draw=draw, tensor_kwargs=tensor_kwargs, variants=variants,
                   constants=variants and codec_keeps_constants(), later_ops=not allowed - {"getitem"} <= _FIRST)

    def add_input(shape: tuple[int, ...]) -> None:
        name = s.fresh("xyz"[len(s.inputs)] if len(s.inputs) < 3 else "x")
        s.inputs.append(Node(name, "placeholder", tensor=TensorMeta(shape)))
        s.meta[name] = TensorMeta(shape)
        s.vals.append(Val(name, TensorMeta(shape), True))

    def usable(shape: tuple[int, ...]) -> bool:
        probe = GraphState(draw=draw, tensor_kwargs=False, vals=[Val("p", TensorMeta(shape), True)])
        return any(g.ok(probe) for g in gens)

    first = [sh for sh in PLACEHOLDER_SHAPES if usable(sh)]
    if not first:
        raise ValueError(f"graphs(): none of the placeholder shapes {PLACEHOLDER_SHAPES} fits ops {sorted(allowed)}")
    add_input(first[draw(indices(len(first)))])
    for shape in draw(_MORE_INPUTS):
        add_input(shape)

    # One span per op, ending with its continue flag (rather than a count drawn up front): the shrinker can
    # then delete any op with its flag, not only the last ones. A flag continues with probability 15/16.
    n = 0
    while n < max_nodes:
        before = len(s.body)
        more = spanned(draw, _op_step, s, gens, patterns, min_nodes <= n + 1 < max_nodes)
        n += max(1, len(s.body) - before) if patterns else 1  # with motifs: the nodes a step added
        if n >= min_nodes and not more:
            break
    s.draw = draw
    if tensor_kwargs and not s.n_tensor_kwargs:
        x = s.floats()[-1]
        s.emit("aten.add.Tensor", (Ref(x.name),), (("other", Ref(x.name)),))

    sinks = [n.name for n in reversed(s.body) if n.name not in s.used and isinstance(s.meta[n.name], TensorMeta)
             and n.name in {v.name for v in s.vals}]
    rest = [v.name for v in reversed(s.vals) if v.name not in sinks]
    k = draw(ints(1, 3))
    outs = sinks[:k]
    while len(outs) < k and rest:
        outs.append(rest.pop(draw(ints(0, len(rest) - 1))))
    if not outs:
        outs = [s.vals[-1].name]
    return Graph(tuple(s.attrs) + tuple(s.inputs) + tuple(s.body) + (_output_node(outs),))
