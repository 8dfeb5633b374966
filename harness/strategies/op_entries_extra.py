"""The op table's last entries: the rarer ops of real quantizers' vocabulary (issue 14): more activations and
elementwise ops, comparisons with scalars and boolean logic, index ops, tensor creation, multi-output ops, dtype
conversion, shape ops, two-operand ops, instance norm, 3-d pooling, ``F.unfold``, ``F.grid_sample``, convolutions
with ``padding="same"``. A spelling is called with a ``harness.strategies.exported.Call`` ``c`` (see
:mod:`harness.strategies.op_entries`).
"""

from __future__ import annotations

from harness.strategies.gen_base import Op
from harness.strategies.op_gens_extra import (
    gen_contiguous,
    gen_creation,
    gen_grid_sampler,
    gen_im2col,
    gen_index,
    gen_instance_norm,
    gen_logic,
    gen_multi,
    gen_pair,
    gen_pool3d,
    gen_shape_op,
    gen_to,
    gen_where_scalar,
)
from harness.strategies.op_gens_more import gen_act, gen_compare, gen_inplace_act, gen_positive, gen_reduce
from harness.strategies.op_gens import gen_cat
from harness.strategies.op_gens_weights import gen_conv, gen_upsample

__all__ = ["EXTRA"]


def _m(fn: str, **kw):
    """The method spelling ``x.<fn>(*rest)``."""
    return lambda c: getattr(c.a[0], fn)(*c.a[1:], **{**kw, **c.k})


def _t(fn: str):
    """The function spelling ``torch.<fn>(*args)`` (or ``F.<fn>``)."""
    return lambda c: (getattr(c.F, fn, None) or getattr(c.torch, fn))(*c.a, **c.k)


def _named(spell, rule: str, gen, *ops: str, view: str = "") -> tuple[Op, ...]:
    """One entry per op of ``ops``, named without ``aten.`` (``"scatter.src"``) and without its overload when that
    is ``default`` (``"tan"``), spelled ``spell(fn)`` with ``fn`` the op's name before its overload: ``_m``, the
    method of that name (``x.scatter(...)``), or ``_t``, the function."""
    return tuple(Op(f"aten.{op}" if "." in op else f"aten.{op}.default", rule, gen, spell(op.split(".")[0]), view=view)
                 for op in ops)


def _conv_padding(n: int):
    return lambda c: getattr(c.F, f"conv{n}d")(*c.a)


def _conv_padding_module(n: int):
    def module(c):
        w, groups = c.a[1], c.p(6, "groups", 1)
        return getattr(c.nn, f"Conv{n}d")(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]),
                                          padding=c.p(4, "padding", "valid"), dilation=c.p(5, "dilation", 1),
                                          groups=groups, bias=c.p(2, "bias", None) is not None)

    return module


def _instance_norm_module(c):
    if c.a[1] is None or not (c.owned(1) and c.owned(2)):
        return None
    cls = c.nn.InstanceNorm2d if len(c.a[0].shape) == 4 else c.nn.InstanceNorm1d
    return cls(c.a[1].shape[0], eps=c.a[7], momentum=c.a[6], affine=True)


def _grid_sample(c):
    return c.F.grid_sample(c.a[0], c.a[1], mode=("bilinear", "nearest")[c.a[2]], padding_mode="zeros",
                           align_corners=c.a[4])


_POSITIVE = ("log", "log10", "log1p", "log2", "sqrt", "rsqrt", "acos", "asin", "atanh", "erfinv", "logit")
_POSITIVE_INPLACE = ("log", "log10", "log1p", "log2", "sqrt", "rsqrt")
_COMPARE = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "ge": "__ge__"}
_LOGIC = {"__and__": lambda a, b: a & b, "__or__": lambda a, b: a | b, "__xor__": lambda a, b: a ^ b}

EXTRA: tuple[Op, ...] = (
    *(Op(f"aten.{op}.Scalar", "binary_bool", gen_compare, _m(method)) for op, method in _COMPARE.items()),
    *(Op(f"aten.{op}.Tensor", "binary_bool", gen_logic, lambda c, f=f: f(c.a[0], c.a[1])) for op, f in _LOGIC.items()),
    *_named(_t, "binary_bool", gen_logic, "logical_and", "bitwise_or.Tensor", "bitwise_xor.Tensor"),
    Op("aten.where.ScalarSelf", "where", gen_where_scalar, _t("where")),
    *_named(_t, "unary", gen_act, "celu", "selu"),
    *_named(_m, "unary", gen_act, "tan", "cosh", "sinh", "asinh", "expm1", "reciprocal"),
    Op("aten.clamp_.default", "unary", gen_inplace_act, _m("clamp_"), view="view"),
    Op("aten.dropout_.default", "unary", gen_inplace_act,
       lambda c: c.F.dropout(c.a[0], c.a[1], training=c.a[2], inplace=True), view="view"),
    Op("aten.gather.default", "gather", gen_index, _t("gather")),
    Op("aten.index_select.default", "index_select", gen_index, _t("index_select")),
    Op("aten.index.Tensor", "index", gen_index, lambda c: c.a[0][c.a[1][0]]),
    Op("aten.index_put.default", "like", gen_index, lambda c: c.torch.index_put(c.a[0], tuple(c.a[1]), c.a[2])),
    *_named(_m, "like", gen_index, "index_copy", "scatter.src", "scatter.value", "scatter_add", "scatter_reduce.two"),
    Op("aten.slice_scatter.default", "like", gen_index, _t("slice_scatter")),
    Op("aten.zeros.default", "size_creation", gen_creation, lambda c: c.torch.zeros(c.a[0])),
    Op("aten.ones.default", "size_creation", gen_creation, lambda c: c.torch.ones(c.a[0])),
    Op("aten.full.default", "size_creation", gen_creation, lambda c: c.torch.full(c.a[0], c.a[1])),
    Op("aten.eye.default", "eye", gen_creation, lambda c: c.torch.eye(*c.a)),
    *(Op(f"aten.arange.{overload}", "range_creation", gen_creation, lambda c: c.torch.arange(*c.a))
      for overload in ("default", "start", "start_step")),
    Op("aten.linspace.default", "range_creation", gen_creation, lambda c: c.torch.linspace(*c.a)),
    Op("aten.sort.default", "sort", gen_multi, lambda c: c.torch.sort(*c.a)),
    Op("aten.min.dim", "min_dim", gen_multi, lambda c: c.torch.min(*c.a)),
    Op("aten.adaptive_max_pool2d.default", "adaptive_max_pool2d", gen_multi,
       lambda c: c.F.adaptive_max_pool2d(c.a[0], c.a[1], return_indices=True)),
    Op("aten.max_pool2d_with_indices.default", "max_pool2d_with_indices", gen_multi,
       lambda c: c.F.max_pool2d(c.a[0], c.a[1], c.a[2], return_indices=True)),
    Op("aten.narrow.default", "narrow", gen_shape_op, _m("narrow"), view="view"),
    Op("aten.unflatten.int", "unflatten", gen_shape_op, _m("unflatten"), view="view"),
    Op("aten.repeat_interleave.self_int", "repeat_interleave", gen_shape_op, _m("repeat_interleave")),
    Op("aten.tile.default", "repeat", gen_shape_op, _m("tile")),
    Op("aten.glu.default", "glu", gen_shape_op, _t("glu")),
    Op("aten.channel_shuffle.default", "unary", gen_shape_op, _t("channel_shuffle")),
    *_named(_m, "unary", gen_shape_op, "cumsum", "flip"),
    *_named(_t, "movedim", gen_shape_op, "movedim.int", "moveaxis.int", view="view"),
    Op("aten.swapaxes.default", "transpose", gen_shape_op, _m("swapaxes"), view="view"),
    Op("aten.var.dim", "reduce_var", gen_shape_op, _m("var")),
    Op("aten.linalg_vector_norm.default", "reduce_norm", gen_shape_op,
       lambda c: c.torch.linalg.vector_norm(c.a[0], c.a[1], c.a[2])),
    Op("aten.round.decimals", "unary", gen_shape_op, _m("round")),
    Op("aten.full_like.default", "like", gen_shape_op, _t("full_like")),
    *_named(_t, "unary", gen_shape_op, "clamp_min", "clamp_max"),
    Op("aten.remainder.Scalar", "unary", gen_shape_op, lambda c: c.a[0] % c.a[1]),
    Op("aten.cosine_similarity.default", "cosine_similarity", gen_pair, _t("cosine_similarity")),
    Op("aten.cdist.default", "cdist", gen_pair, _t("cdist")),
    Op("aten.einsum.default", "einsum", gen_pair, lambda c: c.torch.einsum(c.a[0], *c.a[1])),
    Op("aten.expand_as.default", "second", gen_pair, _m("expand_as"), view="overlap"),
    Op("aten.view_as.default", "second", gen_pair, _m("view_as"), view="view"),
    *_named(_t, "binary", gen_pair, "clamp.Tensor", "rsub.Tensor", "max.other", "min.other"),
    Op("aten.floor_divide.default", "binary", gen_pair, lambda c: c.a[0] // c.a[1]),
    Op("aten.remainder.Tensor", "binary", gen_pair, lambda c: c.a[0] % c.a[1]),
    *_named(_t, "binary", gen_pair, "div.Tensor_mode", "divide.Tensor"),
    *_named(_m, "unary", gen_pair, "sub_.Tensor", "div_.Tensor", view="view"),
    Op("aten.to.dtype", "to_dtype", gen_to, _m("to")),
    Op("aten.contiguous.default", "like", gen_contiguous, _m("contiguous")),
    Op("aten.instance_norm.default", "unary", gen_instance_norm,
       lambda c: c.F.instance_norm(c.a[0], c.a[3], c.a[4], c.a[1], c.a[2], c.a[5], c.a[6], c.a[7]),
       module=_instance_norm_module, owns=(None, "weight", "bias")),
    Op("aten.avg_pool3d.default", "pool_nd", gen_pool3d, lambda c: c.F.avg_pool3d(*c.a)),
    Op("aten.adaptive_avg_pool3d.default", "adaptive_nd", gen_pool3d, _t("adaptive_avg_pool3d")),
    Op("aten.im2col.default", "im2col", gen_im2col, lambda c: c.F.unfold(c.a[0], *c.a[1:])),
    Op("aten.grid_sampler.default", "grid_sampler", gen_grid_sampler, _grid_sample),
    Op("aten.upsample_bicubic2d.vec", "upsample", gen_upsample,
       lambda c: c.F.interpolate(c.a[0], scale_factor=tuple(c.a[3]), mode="bicubic", align_corners=c.a[2])),
    Op("aten.argmin.default", "reduce_index", gen_reduce,
       lambda c: c.a[0].argmin(c.a[1], keepdim=c.p(2, "keepdim", False))),
    Op("aten.concat.default", "cat", gen_cat, lambda c: c.torch.concat(c.a[0], c.p(1, "dim", 0))),
    Op("aten.concatenate.default", "cat", gen_cat, lambda c: c.torch.concatenate(c.a[0], c.p(1, "dim", 0))),
    *_named(_t, "movedim", gen_shape_op, "movedim.intlist", "moveaxis.intlist", view="view"),
    Op("aten.var.correction", "reduce_correction", gen_shape_op, _m("var")),
    Op("aten.fill.Scalar", "like", gen_act, _t("fill")),
    Op("aten.fill_.Scalar", "like", gen_inplace_act, _m("fill_"), view="view"),
    *_named(_m, "unary", gen_positive, *_POSITIVE),
    *_named(_m, "unary", gen_positive, *(op + "_" for op in _POSITIVE_INPLACE), view="view"),
    Op("aten.pow.Tensor_Tensor", "binary", gen_positive, lambda c: c.a[0] ** c.a[1]),
    *(Op(f"aten.conv{n}d.padding", "conv", gen_conv, _conv_padding(n), module=_conv_padding_module(n),
         owns=(None, "weight", "bias")) for n in (1, 2, 3)),
)
