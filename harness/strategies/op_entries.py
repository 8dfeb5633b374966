"""The op table's entries for the ops the harness drew first: the IR vocabulary of the prepare campaign.

:data:`BASIC` are the ops of the first module programs (``EXPORTABLE_OPS``), :data:`IR` the IR shapes beyond them
(in-place ops on activations, multi-output ops read through ``getitem``; spelled too, ``F.relu(x, inplace=True)``,
``torch.topk(x, k)``). Both are ordered from simplest to most involved: shrinking goes towards the front. A
program spelling is called with a ``harness.strategies.exported.Call`` ``c``: ``c.a`` the arguments (values),
``c.p(i, key, default)`` argument ``i`` or keyword ``key``, ``c.torch``, ``c.F``, ``c.nn``.
"""

from __future__ import annotations

from functools import partial

from harness.strategies.gen_base import Op
from harness.strategies.module_spellings import hardtanh, plain, pooled, with_args
from harness.strategies.op_gens import (
    gen_adaptive,
    gen_binary,
    gen_cat,
    gen_conv2d,
    gen_flatten,
    gen_inplace,
    gen_layer_norm,
    gen_linear,
    gen_matmul,
    gen_mean,
    gen_permute,
    gen_pool,
    gen_softmax,
    gen_split,
    gen_stack,
    gen_unary,
    gen_view,
    hardtanh_bounds,
)
from harness.strategies.op_gens_ir import (
    gen_chunk,
    gen_inplace_binary,
    gen_inplace_unary,
    gen_max_dim,
    gen_split_with_sizes,
    gen_topk,
    gen_unbind,
)

__all__ = ["BASIC", "IR", "GETITEM_ENTRY"]


def _add(c):
    alpha = c.k.get("alpha", 1)
    return c.a[0] + c.a[1] if alpha == 1 else c.torch.add(c.a[0], c.a[1], alpha=alpha)


def _conv2d_module(c):
    w = c.a[1]
    groups = c.p(6, "groups", 1)
    return c.nn.Conv2d(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]), stride=c.p(3, "stride", (1, 1)),
                       padding=c.p(4, "padding", (0, 0)), dilation=c.p(5, "dilation", (1, 1)), groups=groups,
                       bias=c.p(2, "bias", None) is not None)


def _layer_norm_module(c):
    if len(c.a) < 4 or not c.owned(2) or not c.owned(3):
        return None
    return c.nn.LayerNorm(tuple(c.a[1]), eps=c.p(4, "eps", 1e-5))


BASIC: tuple[Op, ...] = (
    Op("aten.relu.default", "unary", gen_unary, lambda c: c.torch.relu(c.a[0]), stateless=plain("ReLU")),
    Op("aten.add.Tensor", "binary", gen_binary, _add),
    Op("aten.sigmoid.default", "unary", gen_unary, lambda c: c.torch.sigmoid(c.a[0]), favoured=True,
       stateless=plain("Sigmoid")),
    Op("aten.mul.Tensor", "binary", gen_binary, lambda c: c.a[0] * c.a[1]),
    Op("aten.clone.default", "unary", gen_unary, lambda c: c.a[0].clone()),
    Op("aten.hardtanh.default", "unary", partial(gen_unary, extra=hardtanh_bounds),
       lambda c: c.F.hardtanh(c.a[0], c.p(1, "min_val", -1.0), c.p(2, "max_val", 1.0)), stateless=hardtanh()),
    Op("aten.cat.default", "cat", gen_cat, lambda c: c.torch.cat(c.a[0], c.p(1, "dim", 0)), favoured=True),
    Op("aten.linear.default", "linear", gen_linear, lambda c: c.F.linear(c.a[0], c.a[1], c.p(2, "bias", None)),
       module=lambda c: c.nn.Linear(c.a[1].shape[1], c.a[1].shape[0], bias=c.p(2, "bias", None) is not None),
       owns=(None, "weight", "bias"), favoured=True),
    Op("aten.conv2d.default", "conv2d", gen_conv2d,
       lambda c: c.F.conv2d(c.a[0], c.a[1], c.p(2, "bias", None), c.p(3, "stride", 1), c.p(4, "padding", 0),
                            c.p(5, "dilation", 1), c.p(6, "groups", 1)),
       module=_conv2d_module, owns=(None, "weight", "bias"), favoured=True),
    Op("aten.view.default", "view", gen_view, lambda c: c.a[0].view(c.a[1]), view="view"),
    Op("aten.reshape.default", "view", gen_view, lambda c: c.a[0].reshape(c.a[1]), view="view"),
    Op("aten.flatten.using_ints", "flatten", gen_flatten,
       lambda c: c.torch.flatten(c.a[0], c.p(1, "start_dim", 0), c.p(2, "end_dim", -1)), view="view",
       stateless=with_args("Flatten", ("start_dim", 0), ("end_dim", -1))),
    Op("aten.permute.default", "permute", gen_permute, lambda c: c.a[0].permute(c.a[1]), view="view"),
    Op("aten.split.Tensor", "split", gen_split, lambda c: c.torch.split(c.a[0], c.a[1], c.p(2, "dim", 0)),
       view="multi"),
    Op("aten.stack.default", "stack", gen_stack, lambda c: c.torch.stack(c.a[0], c.p(1, "dim", 0))),
    Op("aten.max_pool2d.default", "max_pool2d", gen_pool,
       lambda c: c.F.max_pool2d(c.a[0], c.a[1], c.p(2, "stride", None) or None, c.p(3, "padding", 0),
                                c.p(4, "dilation", 1), ceil_mode=c.p(5, "ceil_mode", False)),
       stateless=pooled("MaxPool2d", ("stride", None), ("padding", 0), ("dilation", 1), ("ceil_mode", False))),
    Op("aten.avg_pool2d.default", "avg_pool2d", gen_pool,
       lambda c: c.F.avg_pool2d(c.a[0], c.a[1], c.p(2, "stride", None) or None, c.p(3, "padding", 0)),
       stateless=pooled("AvgPool2d", ("stride", None), ("padding", 0))),
    Op("aten.adaptive_avg_pool2d.default", "adaptive_avg_pool2d", gen_adaptive,
       lambda c: c.F.adaptive_avg_pool2d(c.a[0], c.a[1]), stateless=pooled("AdaptiveAvgPool2d")),
    Op("aten.mean.dim", "mean_dim", gen_mean, lambda c: c.a[0].mean(c.a[1], keepdim=c.p(2, "keepdim", False))),
    Op("aten.softmax.int", "unary", gen_softmax, lambda c: c.F.softmax(c.a[0], c.a[1]),
       stateless=with_args("Softmax", ("dim", None))),
    Op("aten.layer_norm.default", "unary", gen_layer_norm,
       lambda c: c.F.layer_norm(c.a[0], c.a[1], c.p(2, "weight", None), c.p(3, "bias", None), c.p(4, "eps", 1e-5)),
       module=_layer_norm_module, owns=(None, None, "weight", "bias")),
    Op("aten.minimum.default", "binary", gen_binary, lambda c: c.torch.minimum(c.a[0], c.a[1])),
    Op("aten.eq.Tensor", "binary_bool", gen_binary, lambda c: c.a[0] == c.a[1]),
    Op("aten.mm.default", "mm", partial(gen_matmul, rank=2), lambda c: c.torch.mm(c.a[0], c.a[1])),
    Op("aten.bmm.default", "bmm", partial(gen_matmul, rank=3), lambda c: c.torch.bmm(c.a[0], c.a[1])),
    Op("aten.copy_.default", "unary", gen_inplace, lambda c: c.a[0].copy_(c.a[1])),
    # on a buffer (a state update nobody reads) here; on an activation too, drawn with the IR shapes
    Op("aten.add_.Tensor", "unary", gen_inplace, lambda c: c.a[0].add_(c.a[1]), view="view",
       more=(gen_inplace_binary,)),
)

IR: tuple[Op, ...] = (
    Op("aten.relu_.default", "unary", gen_inplace_unary, lambda c: c.F.relu(c.a[0], inplace=True), view="view",
       stateless=plain("ReLU", inplace=True)),
    Op("aten.mul_.Tensor", "unary", gen_inplace_binary, lambda c: c.a[0].mul_(c.a[1]), view="view"),
    Op("aten.unbind.int", "unbind", gen_unbind, lambda c: c.torch.unbind(*c.a), view="multi"),
    Op("aten.chunk.default", "chunk", gen_chunk, lambda c: c.torch.chunk(*c.a), view="multi"),
    Op("aten.split_with_sizes.default", "split_with_sizes", gen_split_with_sizes, lambda c: c.torch.split(*c.a),
       view="multi"),
    Op("aten.topk.default", "topk", gen_topk, lambda c: c.torch.topk(*c.a)),
    Op("aten.max.dim", "max_dim", gen_max_dim, lambda c: c.torch.max(*c.a)),
    Op("aten.hardtanh_.default", "unary", gen_inplace_unary,
       lambda c: c.F.hardtanh_(*c.a), view="view",  # F.hardtanh_(x) exports without its default bounds
       stateless=hardtanh(inplace=True)),
)

# getitem: a rule and a spelling, drawn by the multi-output ops' generators
GETITEM_ENTRY = Op("getitem", "getitem", lambda target: None,  # type: ignore[arg-type,return-value]
                   lambda c: c.a[0][c.a[1]])
