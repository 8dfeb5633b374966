"""The op table's entries for the vocabulary of real quantizers beyond the first ops (issue 14): the ops their
annotators name (``harness/strategies/op_survey.json``) that an ordinary module program writes, each drawn the way
real code spells it (``nn.Conv1d``, ``nn.BatchNorm2d`` in train and eval, ``F.gelu(x, approximate="tanh")``,
``x - 1.0``, ``F.interpolate``, ``F.pad``...). Ordered by how many quantizers name them, roughly: shrinking goes
towards the front. A spelling is called with a ``harness.strategies.exported.Call`` ``c`` (see
:mod:`harness.strategies.op_entries`).
"""

from __future__ import annotations

from harness.strategies.gen_base import Op
from harness.strategies.module_spellings import plain, with_args
from harness.strategies.op_gens_more import (
    gen_act,
    gen_compare,
    gen_dropout,
    gen_expand,
    gen_inplace_act,
    gen_log_softmax,
    gen_reduce,
    gen_repeat,
    gen_scalar_binary,
    gen_select,
    gen_slice,
    gen_squeeze,
    gen_transpose,
    gen_unsqueeze,
    gen_where,
)
from harness.strategies.op_gens_weights import (
    gen_addmm,
    gen_batch_norm,
    gen_border_pad,
    gen_conv,
    gen_conv_transpose,
    gen_embedding,
    gen_group_norm,
    gen_matmul_any,
    gen_pad,
    gen_pixel_shuffle,
    gen_pool1d,
    gen_prelu,
    gen_rms_norm,
    gen_sdpa,
    gen_upsample,
)

__all__ = ["MORE"]


def _f(fn: str, *keys: str):
    """The spelling ``F.<fn>(x, *extra)`` (or ``torch.<fn>``), the extra arguments passed as given."""
    def program(c):
        f = getattr(c.F, fn, None) or getattr(c.torch, fn)
        return f(c.a[0], *c.a[1:], **{k: c.k[k] for k in keys if k in c.k})

    return program


def _method(fn: str):
    return lambda c: getattr(c.a[0], fn)(*c.a[1:])


def _conv_module(n: int, transpose: bool):
    def module(c):
        w, groups = c.a[1], c.p(6, "groups", 1)
        if transpose:
            cls = getattr(c.nn, f"ConvTranspose{n}d")
            return cls(w.shape[0], w.shape[1] * groups, tuple(w.shape[2:]), stride=c.p(3, "stride", 1),
                       padding=c.p(4, "padding", 0), output_padding=c.p(5, "output_padding", 0), groups=groups,
                       bias=c.p(2, "bias", None) is not None, dilation=c.p(7, "dilation", 1))
        return getattr(c.nn, f"Conv{n}d")(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]),
                                          stride=c.p(3, "stride", 1), padding=c.p(4, "padding", 0),
                                          dilation=c.p(5, "dilation", 1), groups=groups,
                                          bias=c.p(2, "bias", None) is not None)

    return module


def _conv(n: int, transpose: bool):
    def program(c):
        f = getattr(c.F, f"conv_transpose{n}d" if transpose else f"conv{n}d")
        return f(*c.a)

    return program


def _batch_norm_module(c):
    """``nn.BatchNorm1d`` (2-d and 3-d inputs) or ``nn.BatchNorm2d``, in the node's mode (train or eval)."""
    if not (c.owned(3) and c.owned(4)) or (c.a[1] is None) != (c.a[2] is None):
        return None
    cls = c.nn.BatchNorm2d if len(c.a[0].shape) == 4 else c.nn.BatchNorm1d
    return cls(c.a[3].shape[0], eps=c.a[7], momentum=c.a[6], affine=c.a[1] is not None).train(c.a[5])


def _batch_norm(c):
    x, w, b, mean, var, training, momentum, eps = c.a[:8]
    return c.F.batch_norm(x, mean, var, w, b, training, momentum, eps)


def _upsample(mode: str):
    def program(c):
        scales = c.a[-1]
        extra = {"align_corners": c.a[2]} if mode == "bilinear" else {}
        return c.F.interpolate(c.a[0], scale_factor=tuple(scales), mode=mode, **extra)

    return program


MORE: tuple[Op, ...] = (
    Op("aten.conv1d.default", "conv", gen_conv, _conv(1, False), module=_conv_module(1, False),
       owns=(None, "weight", "bias")),
    Op("aten.gelu.default", "unary", gen_act, _f("gelu", "approximate"),
       stateless=with_args("GELU", ("approximate", "none"))),
    Op("aten.hardswish.default", "unary", gen_act, _f("hardswish"), stateless=plain("Hardswish")),
    Op("aten.hardsigmoid.default", "unary", gen_act, _f("hardsigmoid"), stateless=plain("Hardsigmoid")),
    Op("aten.tanh.default", "unary", gen_act, lambda c: c.torch.tanh(c.a[0]), stateless=plain("Tanh")),
    Op("aten.silu.default", "unary", gen_act, _f("silu"), stateless=plain("SiLU")),
    Op("aten.sub.Tensor", "binary", gen_scalar_binary, lambda c: c.a[0] - c.a[1]),
    Op("aten.div.Tensor", "binary", gen_scalar_binary, lambda c: c.a[0] / c.a[1]),
    Op("aten.matmul.default", "matmul", gen_matmul_any, lambda c: c.a[0] @ c.a[1]),
    Op("aten.transpose.int", "transpose", gen_transpose, _method("transpose"), view="view"),
    Op("aten.squeeze.dim", "squeeze", gen_squeeze, _method("squeeze"), view="view"),
    Op("aten.unsqueeze.default", "unsqueeze", gen_unsqueeze, _method("unsqueeze"), view="view"),
    Op("aten.conv_transpose2d.input", "conv_transpose", gen_conv_transpose, _conv(2, True),
       module=_conv_module(2, True), owns=(None, "weight", "bias")),
    Op("aten.batch_norm.default", "unary", gen_batch_norm, _batch_norm, module=_batch_norm_module,
       owns=(None, "weight", "bias", "running_mean", "running_var")),
    Op("aten.slice.Tensor", "slice", gen_slice,
       lambda c: c.a[0][(slice(None),) * c.p(1, "dim", 0) + (slice(c.p(2, "start", None), c.p(3, "end", None),
                                                                     c.p(4, "step", 1)),)], view="view"),
    Op("aten.select.int", "select", gen_select, lambda c: c.a[0].select(c.a[1], c.a[2]), view="view"),
    Op("aten.leaky_relu.default", "unary", gen_act, _f("leaky_relu"),
       stateless=with_args("LeakyReLU", ("negative_slope", 0.01))),
    Op("aten.elu.default", "unary", gen_act, _f("elu"), stateless=with_args("ELU", ("alpha", 1.0))),
    Op("aten.relu6.default", "unary", gen_act, _f("relu6")),
    Op("aten.prelu.default", "unary", gen_prelu, lambda c: c.F.prelu(c.a[0], c.a[1]),
       module=lambda c: c.nn.PReLU(c.a[1].shape[0]), owns=(None, "weight")),
    Op("aten.clamp.default", "unary", gen_act, lambda c: c.a[0].clamp(*c.a[1:])),
    Op("aten.expand.default", "expand", gen_expand, lambda c: c.a[0].expand(*c.a[1]), view="overlap"),
    Op("aten.addmm.default", "addmm", gen_addmm, lambda c: c.torch.addmm(*c.a)),
    Op("aten.sum.dim_IntList", "reduce", gen_reduce, lambda c: c.a[0].sum(c.a[1], keepdim=c.p(2, "keepdim", False))),
    Op("aten.amax.default", "reduce", gen_reduce, lambda c: c.a[0].amax(c.a[1], keepdim=c.p(2, "keepdim", False))),
    Op("aten.amin.default", "reduce", gen_reduce, lambda c: c.a[0].amin(c.a[1], keepdim=c.p(2, "keepdim", False))),
    Op("aten.argmax.default", "reduce_index", gen_reduce,
       lambda c: c.a[0].argmax(c.a[1], keepdim=c.p(2, "keepdim", False))),
    Op("aten.upsample_nearest2d.vec", "upsample", gen_upsample, _upsample("nearest")),
    Op("aten.upsample_bilinear2d.vec", "upsample", gen_upsample, _upsample("bilinear")),
    Op("aten.pad.default", "pad", gen_pad, lambda c: c.F.pad(*c.a), more=(gen_border_pad,)),
    Op("aten.pixel_shuffle.default", "pixel_shuffle", gen_pixel_shuffle, _f("pixel_shuffle"),
       stateless=with_args("PixelShuffle", ("upscale_factor", None))),
    Op("aten.pixel_unshuffle.default", "pixel_unshuffle", gen_pixel_shuffle, _f("pixel_unshuffle")),
    Op("aten.group_norm.default", "unary", gen_group_norm, lambda c: c.F.group_norm(*c.a),
       module=lambda c: c.nn.GroupNorm(c.a[1], c.a[2].shape[0]), owns=(None, None, "weight", "bias")),
    Op("aten.rms_norm.default", "unary", gen_rms_norm, lambda c: c.F.rms_norm(*c.a),
       module=lambda c: c.nn.RMSNorm(tuple(c.a[1])) if c.owned(2) else None, owns=(None, None, "weight")),
    Op("aten.scaled_dot_product_attention.default", "sdpa", gen_sdpa,
       lambda c: c.F.scaled_dot_product_attention(c.a[0], c.a[1], c.a[2], is_causal=len(c.a) > 5 and c.a[5])),
    Op("aten.embedding.default", "embedding", gen_embedding,
       lambda c: c.F.embedding(c.a[1], c.a[0], c.a[2] if len(c.a) > 2 else None),
       module=lambda c: c.nn.Embedding(*c.a[0].shape, padding_idx=c.a[2] if len(c.a) > 2 else None),
       owns=("weight",)),
    Op("aten.conv3d.default", "conv", gen_conv, _conv(3, False), module=_conv_module(3, False),
       owns=(None, "weight", "bias")),
    Op("aten.conv_transpose1d.default", "conv_transpose", gen_conv_transpose, _conv(1, True),
       module=_conv_module(1, True), owns=(None, "weight", "bias")),
    Op("aten.conv_transpose3d.input", "conv_transpose", gen_conv_transpose, _conv(3, True),
       module=_conv_module(3, True), owns=(None, "weight", "bias")),
    Op("aten.t.default", "transpose", gen_transpose, _method("t"), view="view"),
    Op("aten.squeeze.dims", "squeeze", gen_squeeze, lambda c: c.a[0].squeeze(tuple(c.a[1])), view="view"),
    Op("aten.squeeze.default", "squeeze", gen_squeeze, _method("squeeze"), view="view"),
    Op("aten.repeat.default", "repeat", gen_repeat, lambda c: c.a[0].repeat(*c.a[1])),
    Op("aten.log_softmax.int", "unary", gen_log_softmax, lambda c: c.F.log_softmax(c.a[0], c.a[1])),
    Op("aten.where.self", "where", gen_where, lambda c: c.torch.where(*c.a)),
    Op("aten.masked_fill.Scalar", "unary", gen_where, lambda c: c.a[0].masked_fill(c.a[1], c.a[2])),
    Op("aten.gt.Scalar", "binary_bool", gen_compare, lambda c: c.a[0] > c.a[1]),
    Op("aten.gt.Tensor", "binary_bool", gen_compare, lambda c: c.a[0] > c.a[1]),
    Op("aten.lt.Tensor", "binary_bool", gen_compare, lambda c: c.a[0] < c.a[1]),
    Op("aten.ge.Tensor", "binary_bool", gen_compare, lambda c: c.a[0] >= c.a[1]),
    Op("aten.le.Tensor", "binary_bool", gen_compare, lambda c: c.a[0] <= c.a[1]),
    Op("aten.ne.Tensor", "binary_bool", gen_compare, lambda c: c.a[0] != c.a[1]),
    Op("aten.maximum.default", "binary", gen_scalar_binary, lambda c: c.torch.maximum(c.a[0], c.a[1])),
    Op("aten.rsub.Scalar", "binary", gen_scalar_binary, lambda c: c.a[1] - c.a[0]),
    Op("aten.neg.default", "unary", gen_act, lambda c: -c.a[0]),
    Op("aten.abs.default", "unary", gen_act, lambda c: c.a[0].abs()),
    Op("aten.exp.default", "unary", gen_act, lambda c: c.a[0].exp()),
    Op("aten.cos.default", "unary", gen_act, lambda c: c.a[0].cos()),
    Op("aten.sign.default", "unary", gen_act, lambda c: c.a[0].sign()),
    Op("aten.ceil.default", "unary", gen_act, lambda c: c.a[0].ceil()),
    Op("aten.floor.default", "unary", gen_act, lambda c: c.a[0].floor()),
    Op("aten.round.default", "unary", gen_act, lambda c: c.a[0].round()),
    Op("aten.atan.default", "unary", gen_act, lambda c: c.a[0].atan()),
    Op("aten.erf.default", "unary", gen_act, lambda c: c.a[0].erf()),
    Op("aten.square.default", "unary", gen_act, lambda c: c.a[0].square()),
    Op("aten.pow.Tensor_Scalar", "unary", gen_act, lambda c: c.a[0] ** c.a[1]),
    Op("aten.dropout.default", "unary", gen_dropout, lambda c: c.F.dropout(c.a[0], c.a[1], training=c.a[2])),
    Op("aten.max_pool1d.default", "pool1d", gen_pool1d,
       lambda c: c.F.max_pool1d(c.a[0], c.a[1], c.p(2, "stride", None) or None, c.p(3, "padding", 0))),
    Op("aten.avg_pool1d.default", "pool1d", gen_pool1d,
       lambda c: c.F.avg_pool1d(c.a[0], c.a[1], c.p(2, "stride", None) or None, c.p(3, "padding", 0))),
    Op("aten.adaptive_avg_pool1d.default", "adaptive1d", gen_pool1d, lambda c: c.F.adaptive_avg_pool1d(*c.a)),
    Op("aten.zeros_like.default", "like", gen_act, lambda c: c.torch.zeros_like(c.a[0])),
    Op("aten.ones_like.default", "like", gen_act, lambda c: c.torch.ones_like(c.a[0])),
    Op("aten.silu_.default", "unary", gen_inplace_act, lambda c: c.F.silu(c.a[0], inplace=True), view="view"),
    Op("aten.hardswish_.default", "unary", gen_inplace_act, lambda c: c.F.hardswish(c.a[0], inplace=True),
       view="view"),
    Op("aten.hardsigmoid_.default", "unary", gen_inplace_act, lambda c: c.F.hardsigmoid(c.a[0], inplace=True),
       view="view"),
    Op("aten.relu6_.default", "unary", gen_inplace_act, lambda c: c.F.relu6(c.a[0], inplace=True), view="view"),
    Op("aten.leaky_relu_.default", "unary", gen_inplace_act,
       lambda c: c.F.leaky_relu(c.a[0], *c.a[1:], inplace=True), view="view"),
    Op("aten.sigmoid_.default", "unary", gen_inplace_act, lambda c: c.a[0].sigmoid_(), view="view"),
    Op("aten.tanh_.default", "unary", gen_inplace_act, lambda c: c.a[0].tanh_(), view="view"),
)
