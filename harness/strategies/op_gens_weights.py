"""Op generators for the ops of real quantizers' vocabulary that carry weights or work on space (issue 14):
convolutions of every rank and transposed (groups, stride, dilation, padding), batch norm (train and eval), group
and RMS norm, PReLU, embedding (with and without ``padding_idx``), matmul and addmm, padding, interpolation, pixel
shuffle, attention and 1-d pooling. The rule is that of :mod:`harness.strategies.op_gens`; each factory takes the
op's name.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from harness.case import Ref
from harness.strategies.gen_base import OpGen, Val, default_trimmed, numel
from harness.strategies.op_gens_more import on_value, rank_is
from harness.strategies.reuse import BOOLS
from harness.strategies.shapes import MAX_NUMEL

if TYPE_CHECKING:
    from harness.strategies.graph_state import GraphState

__all__ = [
    "gen_conv", "gen_conv_transpose", "gen_batch_norm", "gen_group_norm", "gen_rms_norm", "gen_prelu",
    "gen_embedding", "gen_matmul_any", "gen_addmm", "gen_pad", "gen_upsample", "gen_pixel_shuffle", "gen_sdpa",
    "gen_pool1d",
]


def _rank_of(target: str) -> int:
    return int(next(ch for ch in target.split(".")[1] if ch.isdigit()))


def _conv_ok(n: int):
    """An input of ``n`` spatial dims (a 3-d conv reads a 4-d value unsqueezed, ``x.unsqueeze(2)``) and at most 16
    channels."""
    return lambda v: len(v.meta.shape) == n + 2 and v.meta.shape[1] <= 16


def gen_conv(target: str) -> OpGen:
    """``nn.Conv1d``/``nn.Conv3d``: kernel 1 or 3, stride, padding, dilation, groups (depthwise), bias or not."""
    n = _rank_of(target)

    def make(s: "GraphState", x: Val) -> None:
        c, space = x.meta.shape[1], x.meta.shape[2:]
        k = s.pick([1, 3]) if min(space) >= 3 else 1
        stride = s.pick([1, 2]) if min(space) >= 2 else 1
        pad = s.pick([0, k // 2]) if k > 1 else 0
        dil = s.pick([1, 2]) if k > 1 and min(space) >= 5 and pad == 0 else 1
        groups = c if c > 1 and s.draw(BOOLS) else 1
        out = c if groups > 1 else s.pick([4, 8])
        kernel = tuple(1 if n == 3 and d == 1 else k for d in space)
        strides = tuple(stride if d > 1 else 1 for d in space)
        weight = s.attr(f"conv{n}d_weight", (out, c // groups) + kernel, "parameter")
        bias = s.attr(f"conv{n}d_bias", (out,), "parameter", reuse=False) if s.draw(BOOLS) else None
        pads = tuple(pad if kk > 1 else 0 for kk in kernel)
        dils = tuple(dil if kk > 1 else 1 for kk in kernel)
        one = (1,) * n
        if target.endswith(".padding"):  # nn.Conv2d(..., padding="same"): stride 1
            args = [Ref(x.name), Ref(weight), Ref(bias) if bias else None, one, s.pick(["same", "valid"]), dils, groups]
            s.emit(target, default_trimmed(args, [None, one, "valid", one, 1]))
            return
        args = [Ref(x.name), Ref(weight), Ref(bias) if bias else None, strides, pads, dils, groups]
        s.emit(target, default_trimmed(args, [None, one, (0,) * n, one, 1]))

    return on_value(target, _conv_ok(n), make)


def gen_conv_transpose(target: str) -> OpGen:
    """``nn.ConvTranspose1d/2d/3d``: kernel 2 or 3, stride 1 or 2, padding, groups, bias or not."""
    n = _rank_of(target)

    def make(s: "GraphState", x: Val) -> None:
        c, space = x.meta.shape[1], x.meta.shape[2:]
        k, stride = s.pick([2, 3]), s.pick([1, 2])
        pad = s.pick([0, 1]) if k == 3 else 0
        groups = 2 if c % 2 == 0 and s.draw(BOOLS) else 1
        out = 4
        kernel = tuple(1 if n == 3 and d == 1 else k for d in space)
        grown = math.prod((d - 1) * stride - 2 * pad + kk for d, kk in zip(space, kernel) if kk > 1)
        if x.meta.shape[0] * out * grown * math.prod(d for d, kk in zip(space, kernel) if kk == 1) > MAX_NUMEL:
            stride = 1
        weight = s.attr(f"conv_transpose{n}d_weight", (c, out // groups) + kernel, "parameter")
        bias = s.attr(f"conv_transpose{n}d_bias", (out,), "parameter", reuse=False) if s.draw(BOOLS) else None
        strides = tuple(stride if kk > 1 else 1 for kk in kernel)
        pads = tuple(pad if kk > 1 else 0 for kk in kernel)
        args = [Ref(x.name), Ref(weight), Ref(bias) if bias else None, strides, pads, (0,) * n, groups]
        one = (1,) * n
        s.emit(target, default_trimmed(args, [None, one, (0,) * n, (0,) * n, 1]))

    def ok(v: Val) -> bool:
        return _conv_ok(n)(v) and numel(v) * 4 <= MAX_NUMEL

    return on_value(target, ok, make)


def gen_batch_norm(target: str) -> OpGen:
    """``nn.BatchNorm1d/2d/3d`` in train or eval: weight and bias (or none), running mean and variance."""

    def make(s: "GraphState", x: Val) -> None:
        c = x.meta.shape[1]
        affine = s.draw(BOOLS)
        w = s.attr("batch_norm_weight", (c,), "parameter", reuse=False) if affine else None
        b = s.attr("batch_norm_bias", (c,), "parameter", reuse=False) if affine else None
        mean = s.attr("running_mean", (c,), "buffer", reuse=False)
        var = s.attr("running_var", (c,), "buffer", reuse=False)
        training = s.draw(BOOLS)
        s.emit(target, (Ref(x.name), Ref(w) if w else None, Ref(b) if b else None, Ref(mean), Ref(var), training,
                        0.1, 1e-05, True))

    def ok(s: "GraphState"):
        return lambda v: len(v.meta.shape) in (2, 3, 4) and v.meta.shape[0] * math.prod(v.meta.shape[2:]) > 1

    return OpGen(target, lambda s: s.has(ok(s)), lambda s: make(s, s.choose(s.floats(ok(s)))))


def gen_group_norm(target: str) -> OpGen:
    """``nn.GroupNorm(groups, C)``: 1, 2 or C groups."""

    def make(s: "GraphState", x: Val) -> None:
        c = x.meta.shape[1]
        groups = s.pick([g for g in (1, 2, c) if c % g == 0])
        w = s.attr("group_norm_weight", (c,), "parameter", reuse=False)
        b = s.attr("group_norm_bias", (c,), "parameter", reuse=False)
        s.emit(target, (Ref(x.name), groups, Ref(w), Ref(b)))

    return on_value(target, rank_is(3, 4), make)


def gen_rms_norm(target: str) -> OpGen:
    """``nn.RMSNorm(last)`` (a weight) or ``F.rms_norm(x, [last])``."""

    def make(s: "GraphState", x: Val) -> None:
        last = x.meta.shape[-1]
        w = s.attr("rms_norm_weight", (last,), "parameter", reuse=False) if s.draw(BOOLS) else None
        s.emit(target, (Ref(x.name), (last,)) + ((Ref(w),) if w else ()))

    return on_value(target, rank_is(2, 3, 4), make)


def gen_prelu(target: str) -> OpGen:
    """``nn.PReLU()`` (one weight) or ``nn.PReLU(C)``."""

    def make(s: "GraphState", x: Val) -> None:
        n = x.meta.shape[1] if s.draw(BOOLS) else 1
        s.emit(target, (Ref(x.name), Ref(s.attr("prelu_weight", (n,), "parameter", reuse=False))))

    return on_value(target, rank_is(2, 3, 4), make)


def gen_embedding(target: str) -> OpGen:
    """``nn.Embedding(4, dim)`` (``padding_idx`` or not) reading an int64 buffer of indices (values 0 and 1)."""

    def emit(s: "GraphState") -> None:
        shape = s.pick([(2, 3), (4,), (1, 8)])
        idx = s.index_buffer(shape)
        w = s.attr("embedding_weight", (4, s.pick([8, 4])), "parameter", reuse=False)
        s.emit(target, (Ref(w), Ref(idx)) + ((0,) if s.draw(BOOLS) else ()))

    return OpGen(target, lambda s: True, emit)


def gen_matmul_any(target: str) -> OpGen:
    """``x @ y`` (``torch.matmul``) of 2-d to 4-d values, the second a value or a weight, or (a square one) ``x @ x``."""

    def make(s: "GraphState", a: Val) -> None:
        k = a.meta.shape[-1]
        if a.meta.shape[-2] == k and s.seldom():  # ``x @ x``: both operands one value
            s.emit(target, (Ref(a.name), Ref(a.name)))
            return
        others = s.floats(lambda v: 2 <= len(v.meta.shape) <= len(a.meta.shape) and v.meta.shape[-2] == k
                          and v.meta.shape[-1] <= 16 and a.meta.shape[-3:-2] in (v.meta.shape[-3:-2], ())
                          and len(v.meta.shape) <= 3)
        if others and s.draw(BOOLS):
            b = s.choose(others).name
        else:
            b = s.attr("matmul_weight", (k, s.pick([8, 4])), "parameter")
        s.emit(target, (Ref(a.name), Ref(b)))

    return on_value(target, lambda v: 2 <= len(v.meta.shape) <= 4 and v.meta.shape[-1] <= 64, make)


def gen_addmm(target: str) -> OpGen:
    """``torch.addmm(bias, x, w)`` of a 2-d value."""

    def make(s: "GraphState", x: Val) -> None:
        out = s.pick([8, 4])
        w = s.attr("addmm_weight", (x.meta.shape[1], out), "parameter")
        bias = s.attr("addmm_bias", (out,), "parameter", reuse=False)
        s.emit(target, (Ref(bias), Ref(x.name), Ref(w)))

    return on_value(target, lambda v: len(v.meta.shape) == 2 and v.meta.shape[1] <= 64, make)


def gen_pad(target: str) -> OpGen:
    """``F.pad(x, (1, 1))``, ``F.pad(x, (0, 1, 1, 0))``, ``mode="reflect"`` on 3-d and 4-d values."""

    def make(s: "GraphState", x: Val) -> None:
        pads = s.pick([(1, 1), (0, 1, 1, 0), (2, 0)])
        # reflect and replicate pad exactly the spatial dims (all but batch and channels), reflect less than each
        spatial = len(x.meta.shape) == len(pads) // 2 + 2
        mode = s.pick(["constant", "reflect", "replicate"]) if spatial else "constant"
        if mode == "reflect" and min(x.meta.shape[-(len(pads) // 2):]) <= max(pads):
            mode = "constant"
        value = s.pick([None, 0.5]) if mode == "constant" else None
        args = default_trimmed([Ref(x.name), pads, mode, value], ["constant", None])
        s.emit(target, args)

    return on_value(target, lambda v: len(v.meta.shape) >= 2 and numel(v) * 2 <= MAX_NUMEL, make)


def gen_border_pad(target: str) -> OpGen:
    """What ``nn.ReflectionPad2d(1)``, ``nn.ReflectionPad1d((2, 1))`` write: ``F.pad(x, pads, mode="reflect")``
    over exactly the spatial dims of a 3-d or 4-d value; ``"replicate"`` (``nn.ReplicationPad2d``) where a reflect pad
    would not fit (each pad under the dim's size)."""

    def make(s: "GraphState", x: Val) -> None:
        pads = s.pick([(1, 1), (2, 1)]) * (len(x.meta.shape) - 2)
        s.emit(target, (Ref(x.name), pads, "reflect" if min(x.meta.shape[2:]) > max(pads) else "replicate"))

    return on_value(target, lambda v: len(v.meta.shape) in (3, 4) and numel(v) * 4 <= MAX_NUMEL, make)


def gen_upsample(target: str) -> OpGen:
    """``F.interpolate(x, scale_factor=2)`` (nearest) or ``mode="bilinear"`` with or without ``align_corners``."""
    bilinear = "nearest" not in target  # bilinear and bicubic take align_corners

    def make(s: "GraphState", x: Val) -> None:
        scale = s.pick([2.0, 0.5]) if min(x.meta.shape[2:]) >= 2 else 2.0
        if numel(x) * 4 > MAX_NUMEL:
            scale = 0.5
        if bilinear:
            s.emit(target, (Ref(x.name), None, s.draw(BOOLS), (scale, scale)))
        else:
            s.emit(target, (Ref(x.name), None, (scale, scale)))

    return on_value(target, lambda v: len(v.meta.shape) == 4 and min(v.meta.shape[2:]) >= 2, make)


def gen_pixel_shuffle(target: str) -> OpGen:
    """``F.pixel_shuffle(x, 2)`` (channels a multiple of 4) or ``F.pixel_unshuffle(x, 2)`` (even height, width)."""
    up = target == "aten.pixel_shuffle.default"

    def ok(v: Val) -> bool:
        shape = v.meta.shape
        return len(shape) == 4 and (shape[1] % 4 == 0 if up else shape[2] % 2 == 0 and shape[3] % 2 == 0)

    return on_value(target, ok, lambda s, x: s.emit(target, (Ref(x.name), 2)))


def gen_sdpa(target: str) -> OpGen:
    """``F.scaled_dot_product_attention(q, k, v)`` (causal or not) of 3-d or 4-d values, self-attention or not."""

    def make(s: "GraphState", q: Val) -> None:
        same = s.floats(lambda v: v.meta.shape == q.meta.shape)
        k = s.choose(same).name if s.draw(BOOLS) else q.name
        v = s.choose(same).name if s.draw(BOOLS) else q.name
        causal = s.draw(BOOLS)
        s.emit(target, (Ref(q.name), Ref(k), Ref(v)) + ((None, 0.0, True) if causal else ()))

    return on_value(target, lambda v: len(v.meta.shape) in (3, 4) and v.meta.shape[-1] <= 16, make)


def gen_pool1d(target: str) -> OpGen:
    """``F.max_pool1d(x, 2)``, ``F.avg_pool1d(x, 3, 1, 1)``, ``F.adaptive_avg_pool1d(x, 1)`` of 3-d values."""

    def make(s: "GraphState", x: Val) -> None:
        if target == "aten.adaptive_avg_pool1d.default":
            s.emit(target, (Ref(x.name), (s.pick([1, 2]),)))
            return
        k = s.pick([2, 3]) if x.meta.shape[-1] >= 3 else 2
        stride, pad = s.pick([k, 1]), s.pick([0, 1]) if k == 3 else 0
        s.emit(target, default_trimmed([Ref(x.name), (k,), (stride,), (pad,)], [(k,), (0,)]))

    return on_value(target, lambda v: len(v.meta.shape) == 3 and v.meta.shape[-1] >= 2, make)
