"""Motifs: the fused patterns quantizers match, drawn as one unit inside a random graph.

Quantizers annotate patterns, not single ops: conv→batch norm→relu (or hardtanh, relu6), linear→relu, add→relu,
mul→relu, conv_transpose→batch norm→relu, attention (matmul→softmax→matmul), a residual block (conv→...→add of an
earlier value), a classifier head (pooling→flatten→linear). A uniform random DAG seldom chains the right ops in the
right order, so a quantizer's pattern code stays unreached. Also drawn: SwiGLU (linear→silu→mul), other gates
(linear or conv→gelu, sigmoid or hardsigmoid→mul), squeeze-excite (pool→conv→relu→conv→hardsigmoid→mul), the
gated forms of modern blocks; a GRU or highway mix (sigmoid→``1 - z``→mul→add); MobileNetV3's block, batch norms
folded (conv→hardswish→conv); a reflection-padded conv (pad→conv); token embeddings (embedding→add→norm→linear);
BERT's pooler (the first token or a mean→linear→tanh).

The rule: a :class:`Motif` is a list of steps; a step is a set of alternative ops (op-table names), optional or
not. Drawing a motif draws each step in order with the op's own generator from the op table, the step's main
operand being the value the previous step produced (:attr:`GraphState.focus`, read by ``GraphState.choose``); the
other operands, the arguments and the weights are drawn by the generator as always, from the whole graph. So the
glue around a motif is random: its input may be a graph input or any earlier value, its output may feed several
later ops, be an output, be dead, or be read twice. A step whose ops do not apply to the value it is given is left
out (the motif is cut short, never wrong); an optional step is drawn or skipped (skipped shrinks first).

A motif is an :class:`OpGen` named ``motif.<name>``; :func:`motif_gens` gives those whose first step can be drawn
from the allowed ops, their steps kept to the allowed ops. ``harness.strategies.graphs.graphs(motifs=True)`` draws
one in four steps as a motif (shrinking goes to a plain op).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from harness.strategies.gen_base import OpGen
from harness.strategies.reuse import BOOLS

if TYPE_CHECKING:
    from harness.strategies.graph_state import GraphState

__all__ = ["Motif", "Step", "MOTIFS", "motif_gens"]


@dataclass(frozen=True)
class Step:
    """One step of a motif: one of ``ops`` (op-table names), drawn on the previous step's value; ``optional``: may
    be skipped."""

    ops: tuple[str, ...]
    optional: bool = False


def _step(*ops: str, optional: bool = False) -> Step:
    return Step(tuple(f"aten.{op}" for op in ops), optional)


_CONVS = ("conv1d.default", "conv2d.default", "conv3d.default", "conv1d.padding", "conv2d.padding")
_CONV_TRANSPOSES = ("conv_transpose1d.default", "conv_transpose2d.input", "conv_transpose3d.input")
_ACTS = ("relu.default", "relu_.default", "hardtanh.default", "hardtanh_.default", "relu6.default")
_GLU_ACTS = ("gelu.default", "silu.default", "hardswish.default", "hardsigmoid.default", "sigmoid.default",
             "tanh.default", "leaky_relu.default", "elu.default")


@dataclass(frozen=True)
class Motif:
    """A named pattern: its steps, in the order data flows through them."""

    name: str
    steps: tuple[Step, ...]


MOTIFS: tuple[Motif, ...] = (
    Motif("conv_bn_act", (_step(*_CONVS), _step("batch_norm.default", optional=True),
                          _step(*(_ACTS + _GLU_ACTS), optional=True))),
    Motif("conv_transpose_bn_act", (_step(*_CONV_TRANSPOSES), _step("batch_norm.default", optional=True),
                                    _step(*_ACTS, optional=True))),
    Motif("conv_add_act", (_step(*_CONVS), _step("batch_norm.default", optional=True), _step("add.Tensor", "add_.Tensor"),
                           _step(*_ACTS, optional=True))),
    Motif("linear_act", (_step("linear.default", "addmm.default"), _step(*(_ACTS + _GLU_ACTS)))),
    Motif("linear_bn", (_step("linear.default"), _step("batch_norm.default"), _step(*_ACTS, optional=True))),
    Motif("binary_act", (_step("add.Tensor", "mul.Tensor", "add_.Tensor", "mul_.Tensor", "sub.Tensor"),
                         _step(*_ACTS))),
    Motif("attention", (_step("matmul.default", "bmm.default"), _step("div.Tensor", "mul.Tensor", optional=True),
                        _step("softmax.int", "log_softmax.int"), _step("matmul.default", "bmm.default"))),
    Motif("classifier_head", (_step("adaptive_avg_pool2d.default", "mean.dim", "avg_pool2d.default",
                                    "max_pool2d.default"),
                              _step("flatten.using_ints", "view.default", "reshape.default", "squeeze.dims"),
                              _step("linear.default"), _step(*_ACTS, optional=True))),
    Motif("norm_linear", (_step("layer_norm.default", "rms_norm.default", "group_norm.default"),
                          _step("linear.default"), _step(*_GLU_ACTS, optional=True))),
    Motif("act_pool", (_step(*_CONVS), _step(*_ACTS), _step("max_pool2d.default", "avg_pool2d.default",
                                                         "adaptive_avg_pool2d.default", optional=True))),
    Motif("swiglu", (_step("linear.default"), _step("silu.default", "silu_.default"), _step("mul.Tensor"))),
    Motif("gated", (_step("linear.default", "conv2d.default"), _step("gelu.default", "sigmoid.default",
                                                                    "hardsigmoid.default"), _step("mul.Tensor"))),
    Motif("gate_mix", (_step("sigmoid.default", "hardsigmoid.default"), _step("rsub.Scalar"), _step("mul.Tensor"),
                       _step("add.Tensor", optional=True))),
    Motif("mobile_block", (_step("conv2d.default"), _step("hardswish.default", "hardswish_.default", "relu6.default"),
                           _step("conv2d.default"), _step("hardswish.default", "relu.default", optional=True))),
    Motif("squeeze_excite", (_step("adaptive_avg_pool2d.default", "mean.dim"), _step("conv2d.default", "linear.default"),
                             _step("relu.default", "silu.default"), _step("conv2d.default", "linear.default"),
                             _step("hardsigmoid.default", "sigmoid.default"), _step("mul.Tensor"))),
    Motif("upsample_cat", (_step("upsample_nearest2d.vec", "upsample_bilinear2d.vec", "pixel_shuffle.default"),
                           _step("cat.default", "concat.default"))),
    Motif("pad_conv", (_step("pad.default"), _step("conv2d.default", "conv1d.default"))),
    Motif("embedding", (_step("embedding.default"), _step("add.Tensor", optional=True),
                        _step("layer_norm.default", "rms_norm.default"), _step("linear.default", optional=True))),
    Motif("pooler", (_step("select.int", "slice.Tensor", "mean.dim", optional=True), _step("linear.default"),
                     _step("tanh.default"))),
)


def _motif_gen(motif: Motif, steps: Sequence[Sequence[OpGen]]) -> OpGen:
    def emit(s: "GraphState") -> None:
        for i, (step, gens) in enumerate(zip(motif.steps, steps)):
            if i and step.optional and (not gens or not s.draw(BOOLS)):
                continue
            if i:  # the first step takes the focus the graph's glue gave, if any (a fanned-out value)
                s.focus = s.vals[-1].name
            ok = s.applicable(gens)
            if not ok:
                s.focus = None
                break
            before = len(s.vals)
            s.pick(ok).emit(s)
            s.focus = None
            if len(s.vals) == before:  # the op gave no operand (a write nobody reads): the chain ends
                break

    return OpGen(f"motif.{motif.name}", lambda s: any(g.ok(s) for g in steps[0]), emit)


def motif_gens(gens: Iterable[OpGen], motifs: Iterable[Motif] = MOTIFS) -> tuple[OpGen, ...]:
    """The motifs whose every required step keeps at least one of ``gens`` (the generators of the allowed ops, by op name),
    each step's alternatives kept to those."""
    by_name: dict[str, list[OpGen]] = {}
    for g in gens:
        by_name.setdefault(g.name, []).append(g)
    out = []
    for motif in motifs:
        steps = [[g for op in step.ops for g in by_name.get(op, ())] for step in motif.steps]
        if all(gens or step.optional for gens, step in zip(steps, motif.steps)):
            out.append(_motif_gen(motif, steps))
    return tuple(out)


def ops_of(motifs: Iterable[Motif] = MOTIFS) -> Mapping[str, tuple[str, ...]]:
    """Each motif's ops (every alternative of every step), by motif name."""
    return {m.name: tuple(op for step in m.steps for op in step.ops) for m in motifs}
