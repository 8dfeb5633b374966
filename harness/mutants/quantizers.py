"""Mutants of real quantizers: each is a factory of ``harness.quantizers`` with one seeded annotator bug, of a kind
real quantizers have, that fires only on one graph shape. The quantizer campaign must find every one::

    python -m harness fuzz --quantizer harness.mutants.quantizers:xnnpack_cat_ring_sharing --jobs 2 --seconds 60

The rule: a mutant's ``annotate`` is the real quantizer's, then, where its gate matches, the bug
(:mod:`harness.mutants.quantizers_base`); on any other graph it annotates exactly as the real quantizer. Each bug
is one the campaign's checks report as they are: ``annotate`` (annotate() raises, or changes the graph) or
``well_formed`` (a malformed annotation: a key that is not an input or not a node, a non-float tensor observed,
a dangling or cyclic shared or derived reference, a range, zero point, scale or axis that is impossible).
``QUANTIZER_MUTANTS`` maps each name to its :class:`~harness.mutants.quantizers_base.Seeded` record (base, op,
gate, bug); ``benchmarks/bench_quantizer_mutants.py`` measures how fast the campaign finds each one.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Callable

import torch
from torch.fx import GraphModule, Node
from torchao.quantization.pt2e.observer import PerChannelMinMaxObserver
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationSpec,
    SharedQuantizationSpec,
)

from harness.mutants.quantizers_base import (
    ANNOTATION_KEY,
    CONV_OPS,
    Seeded,
    act_spec,
    annotation,
    calls,
    factory,
    is_call,
)

CATS = ("aten.cat.default", "aten.concat.default", "aten.concatenate.default")
SOFTMAX = ("aten.softmax.int", "aten._softmax.default")
BATCH_NORMS = ("aten.batch_norm.default", "aten._native_batch_norm_legit.default",
               "aten._native_batch_norm_legit_no_training.default")


def _number(v: Any) -> bool:
    return isinstance(v, numbers.Number) and not isinstance(v, bool)


def _arg(node: Node, i: int, name: str, default: Any = None) -> Any:
    return node.args[i] if len(node.args) > i else node.kwargs.get(name, default)


def _same_qparams(observers: list) -> tuple[torch.Tensor, torch.Tensor]:
    """A derive function: the qparams of the first source observer."""
    return observers[0].calculate_qparams()


# ---- gates: the graph shape each bug needs --------------------------------------------------------------------

def _cat_of_three(m: GraphModule) -> list[Node]:
    """A cat of 3 or more inputs."""
    return calls(m, *CATS, where=lambda n: isinstance(n.args[0], (list, tuple)) and len(n.args[0]) >= 3)


def _hardswish_after_conv(m: GraphModule) -> list[Node]:
    """A hardswish whose input is a conv output."""
    return calls(m, "aten.hardswish.default", "aten.hardswish_.default", where=lambda n: is_call(n.args[0], *CONV_OPS))


def _embedding_with_padding_idx(m: GraphModule) -> list[Node]:
    """An embedding with a padding_idx."""
    return calls(m, "aten.embedding.default", where=lambda n: _arg(n, 2, "padding_idx", -1) != -1)


def _add_scalar_read_twice(m: GraphModule) -> list[Node]:
    """An add of a Python scalar whose result has two users or more."""
    return calls(m, "aten.add.Tensor", where=lambda n: any(_number(a) for a in n.args[:2]) and len(n.users) >= 2)


def _layer_norm_without_weight(m: GraphModule) -> list[Node]:
    """A layer_norm without weight (elementwise_affine=False)."""
    return calls(m, "aten.layer_norm.default", where=lambda n: _arg(n, 2, "weight") is None)


def _gelu_tanh(m: GraphModule) -> list[Node]:
    """A gelu(approximate='tanh')."""
    return calls(m, "aten.gelu.default", where=lambda n: n.kwargs.get("approximate") == "tanh")


def _dilated_conv1d(m: GraphModule) -> list[Node]:
    """A conv1d with dilation > 1."""
    return calls(m, "aten.conv1d.default", where=lambda n: list(_arg(n, 5, "dilation", [1])) != [1])


def _attention(m: GraphModule) -> list[Node]:
    """Matmul -> softmax -> matmul."""
    return [u for s in calls(m, *SOFTMAX, where=lambda n: is_call(n.args[0], "aten.matmul.default"))
            for u in s.users if is_call(u, "aten.matmul.default") and s in u.args[:2]]


def _bias_free_conv_into_batch_norm(m: GraphModule) -> list[Node]:
    """A batch_norm reading a conv without bias (QAT, or a train-mode batch norm)."""
    return calls(m, *BATCH_NORMS, where=lambda n: is_call(n.args[0], *CONV_OPS) and _arg(n.args[0], 2, "bias") is None)


def _bilinear_align_corners(m: GraphModule) -> list[Node]:
    """An upsample_bilinear2d with align_corners=True."""
    return calls(m, "aten.upsample_bilinear2d.vec", "aten.upsample_bilinear2d.default",
                 where=lambda n: _arg(n, 2, "align_corners") is True)


def _grouped_conv_transpose(m: GraphModule) -> list[Node]:
    """A conv_transpose2d with groups > 1."""
    return calls(m, "aten.conv_transpose2d.input", where=lambda n: _arg(n, 6, "groups", 1) != 1)


def _linear_relu(m: GraphModule) -> list[Node]:
    """Linear -> relu."""
    return calls(m, "aten.relu.default", "aten.relu_.default",
                 where=lambda n: is_call(n.args[0], "aten.linear.default"))


def _max_pool_ceil_mode(m: GraphModule) -> list[Node]:
    """A max_pool2d with ceil_mode=True."""
    return calls(m, "aten.max_pool2d.default", where=lambda n: _arg(n, 5, "ceil_mode") is True)


def _reflect_pad(m: GraphModule) -> list[Node]:
    """A pad in reflect mode."""
    return calls(m, "aten.pad.default", where=lambda n: _arg(n, 2, "mode", "constant") == "reflect")


def _leaky_relu_with_slope(m: GraphModule) -> list[Node]:
    """A leaky_relu with its negative_slope given."""
    return calls(m, "aten.leaky_relu.default", "aten.leaky_relu_.default", where=lambda n: len(n.args) > 1)


def _silu_into_mul(m: GraphModule) -> list[Node]:
    """A silu whose output feeds a mul (SwiGLU)."""
    return calls(m, "aten.silu.default", "aten.silu_.default",
                 where=lambda n: any(is_call(u, "aten.mul.Tensor", "aten.mul_.Tensor") for u in n.users))


def _scalar_minus_tensor(m: GraphModule) -> list[Node]:
    """A scalar minus a tensor (rsub)."""
    return calls(m, "aten.rsub.Scalar") + calls(m, "aten.sub.Tensor", where=lambda n: _number(n.args[0]))


def _linear_tanh(m: GraphModule) -> list[Node]:
    """Linear -> tanh."""
    return calls(m, "aten.tanh.default", "aten.tanh_.default",
                 where=lambda n: is_call(n.args[0], "aten.linear.default"))


def _hardsigmoid_into_mul(m: GraphModule) -> list[Node]:
    """A hardsigmoid whose output feeds a mul (squeeze-excite)."""
    return calls(m, "aten.hardsigmoid.default", "aten.hardsigmoid_.default",
                 where=lambda n: any(is_call(u, "aten.mul.Tensor", "aten.mul_.Tensor") for u in n.users))


def _depthwise_conv2d(m: GraphModule) -> list[Node]:
    """A depthwise conv2d (groups equal to the input channels)."""
    def depthwise(n: Node) -> bool:
        groups, x = _arg(n, 6, "groups", 1), n.args[0].meta.get("val")
        return groups != 1 and isinstance(x, torch.Tensor) and x.dim() >= 3 and groups == x.shape[-3]
    return calls(m, "aten.conv2d.default", where=depthwise)


def _addmm(m: GraphModule) -> list[Node]:
    """An addmm (bias + x @ w)."""
    return calls(m, "aten.addmm.default", where=lambda n: isinstance(n.args[0], Node))


def _bmm_of_one_value(m: GraphModule) -> list[Node]:
    """A bmm (or matmul) of a value with itself."""
    return calls(m, "aten.bmm.default", "aten.matmul.default", where=lambda n: n.args[0] is n.args[1])


# ---- bugs: what the copy of the annotator gets wrong there -----------------------------------------------------

def _share_in_a_ring(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Each input edge shares with the next one, the last with the first (meant: all with the first): a cycle."""
    for cat in nodes:
        inputs = [a for a in cat.args[0] if isinstance(a, Node)]
        qa = annotation(cat)
        for i, a in enumerate(inputs):  # meant: every input shares with the first one
            qa.input_qspec_map[a] = SharedQuantizationSpec((inputs[(i + 1) % len(inputs)], cat))


def _read_hardtanh_bounds(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """The conv-hardswish annotator, copied from conv-hardtanh, reads the bounds node.args[1:3]: IndexError."""
    for n in nodes:
        annotation(n).output_qspec = act_spec(q) if n.args[1] <= 0 <= n.args[2] else None  # IndexError


def _annotate_indices(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Annotates args[1], the int64 indices, with the activation spec (meant: the weight)."""
    for n in nodes:
        annotation(n).input_qspec_map[n.args[1]] = act_spec(q)  # args[1] is the int64 indices, not the weight


def _annotate_both_operands(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Annotates both operands, the scalar too: an input_qspec_map key that is not a node."""
    for n in nodes:
        qa = annotation(n)
        for a in n.args[:2]:
            qa.input_qspec_map[a] = act_spec(q)  # the Python scalar too


def _annotate_absent_weight(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Maps the weight argument to a spec without checking there is one: the key None."""
    for n in nodes:
        annotation(n).input_qspec_map[_arg(n, 2, "weight")] = act_spec(q)  # None: no weight to annotate


def _uint8_fixed_qparams(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Gives its output tanh's fixed qparams of a uint8 quantizer (zero point 128) in int8: zero point outside
    the range."""
    for n in nodes:  # tanh's fixed qparams of a uint8 quantizer (zero point 128) in an int8 one
        annotation(n).output_qspec = FixedQParamsQuantizationSpec(torch.int8, 2.0 / 256.0, 128, -128, 127,
                                                                   torch.per_tensor_affine)


_SAME_PADDING = {(k, 1): k // 2 for k in range(1, 8)}  # (kernel, dilation) -> padding, dilation 1 only


def _padding_table_lookup(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Looks the padding up in a table of (kernel, dilation) pairs that holds dilation 1 only: KeyError."""
    for n in nodes:
        kernel = n.args[1].meta["val"].shape[-1]
        annotation(n).output_qspec = act_spec(q) if _SAME_PADDING[(kernel, list(n.args[5])[0])] >= 0 else None


def _share_with_unannotated_matmul(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """The second matmul's softmax edge shares with the first matmul's output, which it leaves unannotated."""
    for second in nodes:
        softmax = next(a for a in second.args[:2] if is_call(a, *SOFTMAX))
        first = softmax.args[0]
        annotation(first).output_qspec = None  # the attention annotator leaves the first matmul's output alone
        annotation(second).input_qspec_map[softmax] = SharedQuantizationSpec(first)


def _read_conv_bias(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Reads the conv's bias shape, conv.args[2].meta: AttributeError on None."""
    for bn in nodes:
        conv = bn.args[0]
        bias_shape = _arg(conv, 2, "bias").meta["val"].shape  # AttributeError: the conv has no bias (None)
        annotation(bn).output_qspec = act_spec(q) if bias_shape else None


def _normalize_align_corners(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Rewrites align_corners to False in the node's args inside annotate(): a graph edit."""
    for n in nodes:  # belongs in transform_for_annotation(), not in annotate()
        n.args = (n.args[0], n.args[1], False, *n.args[3:])


_WEIGHT_OUT_AXIS = {1: 1}  # groups -> the output-channel axis of a transposed conv's weight; groups=1 only


def _weight_axis_lookup(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Looks the weight's output-channel axis up in a table keyed by groups that holds groups=1 only: KeyError."""
    for n in nodes:
        axis = _WEIGHT_OUT_AXIS[_arg(n, 6, "groups", 1)]  # KeyError: groups > 1
        annotation(n).output_qspec = act_spec(q) if axis else None


def _signed_relu_range(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Gives the relu output the int8 bounds [-128, 127] with the quantizer's uint8 dtype: quant_min outside the
    dtype's range."""
    spec = act_spec(q)
    for n in nodes:  # the int8 bounds, kept from the signed configuration, with the quantizer's own dtype
        annotation(n).output_qspec = dataclasses.replace(spec, quant_min=-128, quant_max=127)


def _key_by_the_pool(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Keys the input annotation by the pooling node itself (meant: its input): not an input."""
    for n in nodes:  # meant input_qspec_map[n.args[0]]
        annotation(n).input_qspec_map[n] = act_spec(q)


def _share_with_skipped_input(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Skips the input edge of a reflect pad but its output still shares with that edge: a dangling reference."""
    for n in nodes:
        qa = annotation(n)
        qa.input_qspec_map.pop(n.args[0], None)  # reflect mode skips the input...
        qa.output_qspec = SharedQuantizationSpec((n.args[0], n))  # ...but the output still shares with it


def _annotation_as_dict(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Writes the annotation as a plain dict of its fields, not a QuantizationAnnotation."""
    spec = act_spec(q)
    for n in nodes:  # the fields of a QuantizationAnnotation, but a plain dict
        n.meta[ANNOTATION_KEY] = {"input_qspec_map": {n.args[0]: spec}, "output_qspec": spec, "_annotated": True}


def _derive_from_skipped_input(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Derives the silu output's qparams from its input edge, which it leaves unannotated: a dangling derived
    reference."""
    spec = act_spec(q)
    for n in nodes:
        qa = annotation(n)
        qa.input_qspec_map.pop(n.args[0], None)
        qa.output_qspec = DerivedQuantizationSpec([(n.args[0], n)], _same_qparams, spec.dtype, spec.quant_min,
                                                  spec.quant_max, torch.per_tensor_affine)


def _operand_meta(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Reads operand.meta of both operands: AttributeError on the Python scalar."""
    for n in nodes:
        vals = [a.meta["val"] for a in n.args[:2]]  # AttributeError: the scalar operand has no meta
        annotation(n).output_qspec = act_spec(q) if vals else None


def _integer_division_scale(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Gives tanh fixed qparams with the scale 2 // 256 (integer division): scale 0."""
    for n in nodes:
        annotation(n).output_qspec = FixedQParamsQuantizationSpec(torch.int8, 2 // 256, 0, -128, 127,
                                                                   torch.per_tensor_symmetric)


def _axis_past_the_last(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """A per-channel output spec whose ch_axis is dim() (meant: dim() - 1): axis out of range."""
    for n in nodes:  # meant the last axis, dim() - 1
        annotation(n).output_qspec = QuantizationSpec(torch.int8, PerChannelMinMaxObserver, -128, 127,
                                                      torch.per_channel_symmetric, ch_axis=n.meta["val"].dim())


def _insert_clone(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Inserts a clone in front of the conv inside annotate(): a graph edit."""
    for conv in nodes:  # gives the depthwise conv its own input value, inside annotate()
        with m.graph.inserting_before(conv):
            clone = m.graph.call_function(torch.ops.aten.clone.default, (conv.args[0],))
        clone.meta.update(conv.args[0].meta)
        conv.replace_input_with(conv.args[0], clone)
    m.recompile()


def _derive_bias_from_its_producer(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Derives the bias spec from the bias producer's output (meant: the input and weight edges): a dangling
    derived reference."""
    for n in nodes:  # meant derived_from=[(input, n), (weight, n)]
        annotation(n).input_qspec_map[n.args[0]] = DerivedQuantizationSpec(
            [n.args[0]], _same_qparams, torch.int32, -(2**31), 2**31 - 1, torch.per_tensor_symmetric)


def _share_second_operand_with_first(q: Any, m: GraphModule, nodes: list[Node]) -> None:
    """Keys input_qspec_map by node: the second operand's shared spec replaces the first one's and points at its
    own edge, a cycle."""
    for n in nodes:  # input_qspec_map is keyed by node: the second operand's spec replaces the first one's
        qa = annotation(n)
        qa.input_qspec_map[n.args[0]] = act_spec(q)
        qa.input_qspec_map[n.args[1]] = SharedQuantizationSpec((n.args[0], n))


_ANNOTATE, _WELL = "annotate", "well_formed"

SEEDED: tuple[Seeded, ...] = (  # a gate and a bug in words: the docstrings of its two functions
    # torchao's XNNPACK quantizer (test copy)
    Seeded.of("xnnpack_cat_ring_sharing", "xnnpack", "aten.cat.default", _WELL, _cat_of_three, _share_in_a_ring),
    Seeded.of("xnnpack_hardswish_after_conv", "xnnpack", "aten.hardswish.default", _ANNOTATE, _hardswish_after_conv, _read_hardtanh_bounds),
    Seeded.of("xnnpack_embedding_padding_idx", "xnnpack", "aten.embedding.default", _WELL, _embedding_with_padding_idx, _annotate_indices),
    Seeded.of("xnnpack_layer_norm_without_weight", "xnnpack", "aten.layer_norm.default", _WELL, _layer_norm_without_weight, _annotate_absent_weight),
    Seeded.of("xnnpack_gelu_tanh", "xnnpack", "aten.gelu.default", _WELL, _gelu_tanh, _uint8_fixed_qparams),
    Seeded.of("xnnpack_dilated_conv1d", "xnnpack", "aten.conv1d.default", _ANNOTATE, _dilated_conv1d, _padding_table_lookup),
    # torchao's X86InductorQuantizer
    Seeded.of("x86_add_scalar_read_twice", "x86_inductor", "aten.add.Tensor", _WELL, _add_scalar_read_twice, _annotate_both_operands),
    Seeded.of("x86_attention_dangling_share", "x86_inductor", "aten.matmul.default", _WELL, _attention, _share_with_unannotated_matmul),
    Seeded.of("x86_conv_bn_without_bias", "x86_inductor", "aten.batch_norm.default", _ANNOTATE, _bias_free_conv_into_batch_norm, _read_conv_bias),
    Seeded.of("x86_bilinear_align_corners", "x86_inductor", "aten.upsample_bilinear2d.vec", _ANNOTATE, _bilinear_align_corners, _normalize_align_corners),
    Seeded.of("x86_grouped_conv_transpose", "x86_inductor", "aten.conv_transpose2d.input", _ANNOTATE, _grouped_conv_transpose, _weight_axis_lookup),
    Seeded.of("x86_linear_relu_int8_range", "x86_inductor", "aten.linear.default", _WELL, _linear_relu, _signed_relu_range),
    Seeded.of("x86_max_pool_ceil_mode", "x86_inductor", "aten.max_pool2d.default", _WELL, _max_pool_ceil_mode, _key_by_the_pool),
    # ExecuTorch's XNNPACK quantizer
    Seeded.of("et_xnnpack_reflect_pad", "executorch_xnnpack", "aten.pad.default", _WELL, _reflect_pad, _share_with_skipped_input),
    Seeded.of("et_xnnpack_leaky_relu_slope", "executorch_xnnpack", "aten.leaky_relu.default", _WELL, _leaky_relu_with_slope, _annotation_as_dict),
    Seeded.of("et_xnnpack_swiglu_derived", "executorch_xnnpack", "aten.silu.default", _WELL, _silu_into_mul, _derive_from_skipped_input),
    Seeded.of("et_xnnpack_rsub_scalar", "executorch_xnnpack", "aten.rsub.Scalar", _ANNOTATE, _scalar_minus_tensor, _operand_meta),
    # ExecuTorch's Arm TOSA quantizer
    Seeded.of("arm_linear_tanh_fixed_scale", "executorch_arm_tosa", "aten.tanh.default", _WELL, _linear_tanh, _integer_division_scale),
    Seeded.of("arm_hardsigmoid_mul_axis", "executorch_arm_tosa", "aten.hardsigmoid.default", _WELL, _hardsigmoid_into_mul, _axis_past_the_last),
    Seeded.of("arm_depthwise_conv_clone", "executorch_arm_tosa", "aten.conv2d.default", _ANNOTATE, _depthwise_conv2d, _insert_clone),
    # ExecuTorch's Cadence quantizer
    Seeded.of("cadence_addmm_bias_derived", "executorch_cadence", "aten.addmm.default", _WELL, _addmm, _derive_bias_from_its_producer),
    Seeded.of("cadence_bmm_same_operand", "executorch_cadence", "aten.bmm.default", _WELL, _bmm_of_one_value, _share_second_operand_with_first),
)

QUANTIZER_MUTANTS: dict[str, Seeded] = {s.name: s for s in SEEDED}
if len(QUANTIZER_MUTANTS) != len(SEEDED):
    raise ImportError("two quantizer mutants share a name")

_FACTORIES: dict[str, Callable] = {s.name: factory(s) for s in SEEDED}
globals().update(_FACTORIES)

__all__ = ["QUANTIZER_MUTANTS", "SEEDED", *QUANTIZER_MUTANTS]
