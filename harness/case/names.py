"""The allow-listed names, as plain data (no torch import).

The op names hold every op of the strategies' op table (``harness.strategies.op_table``, kept so by
``tests/strategies/test_op_table.py``) and the ops a quantizer or ``torch.export`` writes besides.

``harness.fx.ops`` resolves these names to torch objects (and fails at import if one does not resolve);
``harness.case.decode`` validates corpus files against them without importing torch, so reading a corpus is
cheap and safe.
"""

from __future__ import annotations

__all__ = [
    "UnknownName",
    "GETITEM",
    "LIBRARY_OPS",
    "OP_NAMES",
    "CTOR_NAMES",
    "DTYPE_NAMES",
    "TENSOR_DTYPE_NAMES",
    "QSCHEME_NAMES",
    "CONST_NAMES",
    "DERIVE_FN_NAMES",
    "ATTR_KINDS",
    "STATELESS_MODULES",
]


class UnknownName(ValueError):
    """A name that is not in the relevant allow-list (or a torch object that has no allowed name)."""

    def __init__(self, kind: str, name: object) -> None:
        self.kind = kind
        self.name = name
        text = repr(name)
        if len(text) > 120:
            text = text[:117] + "..."
        super().__init__(f"unknown {kind} {text}")


GETITEM = "getitem"

_ATEN = """
conv1d.default conv2d.default conv3d.default convolution.default conv_transpose1d.default
conv_transpose2d.input linear.default addmm.default mm.default bmm.default baddbmm.default matmul.default
add.Tensor add.Scalar sub.Tensor rsub.Scalar mul.Tensor mul.Scalar div.Tensor div.Tensor_mode neg.default
abs.default exp.default log.default sqrt.default rsqrt.default pow.Tensor_Scalar
relu.default relu_.default hardtanh.default hardtanh_.default gelu.default sigmoid.default tanh.default
silu.default silu_.default hardswish.default hardswish_.default hardsigmoid.default leaky_relu.default
elu.default prelu.default clamp.default clamp_min.default
softmax.int _softmax.default log_softmax.int
cat.default stack.default split.Tensor split_with_sizes.default chunk.default unbind.int
view.default reshape.default _unsafe_view.default permute.default transpose.int flatten.using_ints
squeeze.dim squeeze.dims squeeze.default unsqueeze.default expand.default t.default slice.Tensor select.int
contiguous.default alias.default detach.default clone.default
mean.dim mean.default sum.dim_IntList amax.default argmax.default max.dim min.dim topk.default
max_pool1d.default max_pool2d.default max_pool2d_with_indices.default avg_pool1d.default avg_pool2d.default
adaptive_avg_pool1d.default adaptive_avg_pool2d.default _adaptive_avg_pool2d.default
batch_norm.default _native_batch_norm_legit_no_training.default _native_batch_norm_legit.default
layer_norm.default native_layer_norm.default group_norm.default native_group_norm.default embedding.default
eq.Tensor eq.Scalar ne.Scalar lt.Scalar gt.Scalar minimum.default maximum.default where.self
masked_fill.Scalar copy_.default add_.Tensor mul_.Tensor index_put_.default index_put.default index.Tensor
dropout.default native_dropout.default scaled_dot_product_attention.default constant_pad_nd.default
pad.default upsample_nearest2d.vec upsample_bilinear2d.vec pixel_shuffle.default
to.dtype _to_copy.default type_as.default zeros_like.default ones_like.default full_like.default
arange.default arange.start arange.start_step full.default zeros.default ones.default
_assert_tensor_metadata.default repeat.default flip.default cumsum.default
slice_copy.Tensor reciprocal.default index_select.default
relu6.default relu6_.default amin.default pixel_unshuffle.default rms_norm.default conv_transpose3d.input
gt.Tensor lt.Tensor ge.Tensor le.Tensor ne.Tensor cos.default sign.default ceil.default floor.default
round.default atan.default erf.default square.default hardsigmoid_.default leaky_relu_.default sigmoid_.default
tanh_.default le.Scalar ge.Scalar __and__.Tensor __or__.Tensor __xor__.Tensor logical_and.default bitwise_or.Tensor
bitwise_xor.Tensor where.ScalarSelf celu.default selu.default tan.default cosh.default sinh.default asinh.default
expm1.default clamp_.default dropout_.default gather.default index_copy.default scatter.src scatter.value
scatter_add.default scatter_reduce.two slice_scatter.default eye.default linspace.default sort.default
gru.input lstm.input
adaptive_max_pool2d.default narrow.default unflatten.int repeat_interleave.self_int tile.default glu.default
channel_shuffle.default movedim.int moveaxis.int swapaxes.default var.dim linalg_vector_norm.default round.decimals
clamp_max.default remainder.Scalar cosine_similarity.default cdist.default einsum.default expand_as.default
view_as.default clamp.Tensor rsub.Tensor max.other min.other floor_divide.default remainder.Tensor divide.Tensor
sub_.Tensor div_.Tensor instance_norm.default avg_pool3d.default adaptive_avg_pool3d.default im2col.default
grid_sampler.default upsample_bicubic2d.vec conv1d.padding conv2d.padding conv3d.padding argmin.default concat.default
concatenate.default movedim.intlist moveaxis.intlist var.correction fill.Scalar fill_.Scalar log10.default
log1p.default log2.default acos.default asin.default atanh.default erfinv.default logit.default log_.default
log10_.default log1p_.default log2_.default sqrt_.default rsqrt_.default pow.Tensor_Tensor
""".split()

# Ops of another library ("<namespace>.<packet>.<overload>" of torch.ops), each with the module that registers it:
# ``harness.fx.ops`` imports that module (a name of this table, never one read from a case) when a case or a graph
# uses the op. ExecuTorch's Arm quantizers insert _to_dim_order_copy (transform_for_annotation of an int64 input).
LIBRARY_OPS: dict[str, str] = {
    "dim_order_ops._to_dim_order_copy.default": "executorch.exir.passes.dim_order_ops_registry",
}

# "aten.<packet>.<overload>" for torch.ops.aten, the library ops, and "getitem" (operator.getitem).
OP_NAMES: tuple[str, ...] = (GETITEM,) + tuple(f"aten.{n}" for n in _ATEN) + tuple(LIBRARY_OPS)

_OBS = "torchao.quantization.pt2e.observer"
_FQ = "torchao.quantization.pt2e.fake_quantize"
CTOR_NAMES: tuple[str, ...] = (
    f"{_OBS}.MinMaxObserver",
    f"{_OBS}.MovingAverageMinMaxObserver",
    f"{_OBS}.PerChannelMinMaxObserver",
    f"{_OBS}.MovingAveragePerChannelMinMaxObserver",
    f"{_OBS}.HistogramObserver",
    f"{_OBS}.PlaceholderObserver",
    f"{_OBS}.NoopObserver",
    f"{_OBS}.ReuseInputObserver",
    f"{_OBS}.RecordingObserver",
    f"{_OBS}.FixedQParamsObserver",
    f"{_FQ}.FakeQuantize",
    f"{_FQ}.FusedMovingAvgObsFakeQuantize",
    f"{_FQ}.FixedQParamsFakeQuantize",
    "torchao.quantization.pt2e.learnable_fake_quantize.LearnableFakeQuantize",
)

DTYPE_NAMES: tuple[str, ...] = tuple(
    """bool uint8 int8 int16 int32 int64 uint16 uint32 uint64 float16 bfloat16 float32 float64
    float8_e4m3fn float8_e5m2 float8_e4m3fnuz float8_e5m2fnuz int1 int2 int3 int4 int5 int6 int7
    uint1 uint2 uint3 uint4 uint5 uint6 uint7 quint8 qint8 qint32 complex64""".split()
)

# dtypes a placeholder or attribute tensor may have (sub-byte and quantized dtypes are spec dtypes only:
# torch cannot make ordinary tensors of them)
TENSOR_DTYPE_NAMES: tuple[str, ...] = tuple(
    """bool uint8 int8 int16 int32 int64 uint16 uint32 uint64 float16 bfloat16 float32 float64
    float8_e4m3fn float8_e5m2 float8_e4m3fnuz float8_e5m2fnuz complex64""".split()
)

QSCHEME_NAMES: tuple[str, ...] = (
    "per_tensor_affine",
    "per_channel_affine",
    "per_tensor_symmetric",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
)

CONST_NAMES: dict[str, tuple[str, ...]] = {
    "dtype": DTYPE_NAMES,
    "memory_format": ("contiguous_format", "channels_last", "channels_last_3d", "preserve_format"),
    "layout": ("strided", "sparse_coo"),
    "device": ("cpu",),
}

DERIVE_FN_NAMES: tuple[str, ...] = (
    "harness.derive.bias_qparams_per_tensor",
    "harness.derive.bias_qparams_per_channel",
)

# What a get_attr node reads: a registered parameter, a registered buffer, or a constant (a plain tensor
# attribute, as torch.export lifts tensor constants: not a buffer, so an in-place write to it is observed).
ATTR_KINDS: tuple[str, ...] = ("parameter", "buffer", "constant")

# The modules without parameters a program may call an op through (``nn.ReLU()(x)`` for ``aten.relu.default``):
# op name -> the ``torch.nn`` classes whose call torch.export records as that op (in ``nn_module_stack``, and in
# ``source_fn_stack`` when strict). A case node's ``module`` names one (``harness.case.model.Node``); quantizers
# match these classes (``get_source_partitions``, ``find_sequential_partitions``).
STATELESS_MODULES: dict[str, tuple[str, ...]] = {
    "aten.relu.default": ("ReLU",),
    "aten.relu_.default": ("ReLU",),
    "aten.hardtanh.default": ("Hardtanh", "ReLU6"),
    "aten.hardtanh_.default": ("Hardtanh", "ReLU6"),
    "aten.sigmoid.default": ("Sigmoid",),
    "aten.tanh.default": ("Tanh",),
    "aten.gelu.default": ("GELU",),
    "aten.silu.default": ("SiLU",),
    "aten.hardswish.default": ("Hardswish",),
    "aten.hardsigmoid.default": ("Hardsigmoid",),
    "aten.leaky_relu.default": ("LeakyReLU",),
    "aten.elu.default": ("ELU",),
    "aten.softmax.int": ("Softmax",),
    "aten.adaptive_avg_pool2d.default": ("AdaptiveAvgPool2d",),
    "aten.max_pool2d.default": ("MaxPool2d",),
    "aten.avg_pool2d.default": ("AvgPool2d",),
    "aten.flatten.using_ints": ("Flatten",),
    "aten.pixel_shuffle.default": ("PixelShuffle",),
}
