"""Why an op the survey (:mod:`harness.strategies.op_survey`) lists is not generated, as data.

:data:`UNPRODUCIBLE` are the ops no ordinary module program makes ``torch.export`` write (each with its reason in
:data:`REASONS`): the survey counts them out of what "a module program can produce". The other entries of
:data:`REASONS` are producible ops the op table does not draw yet, and why. ``tests/strategies/test_op_survey.py``
checks that every op the survey lists as not generated has a reason here.
"""

from __future__ import annotations

__all__ = ["REASONS", "UNPRODUCIBLE"]

_DECOMPOSED = ("written only by a decomposition (ExportedProgram.run_decompositions, core ATen), not by torch.export "
               "of a program, whose training IR keeps the op a program calls ({})")
_EDGE = ("the functional copy ExecuTorch's edge dialect writes for a view (to_edge); torch.export of a program "
         "writes the view ({}) itself")
_WRAPPED = "a Python scalar operand is wrapped as a tensor: a program's {} exports as {}"

_UNPRODUCIBLE: dict[str, str] = {
    **{f"aten.{op}": _DECOMPOSED.format(kept) for op, kept in {
        "_native_batch_norm_legit.default": "batch_norm",
        "_native_batch_norm_legit_functional.default": "batch_norm",
        "_native_batch_norm_legit_no_training.default": "batch_norm",
        "cudnn_batch_norm.default": "batch_norm",
        "native_layer_norm.default": "layer_norm",
        "_softmax.default": "softmax",
        "_safe_softmax.default": "softmax",
        "_unsafe_view.default": "view, reshape",
        "convolution.default": "conv1d/conv2d/conv3d, conv_transpose",
        "constant_pad_nd.default": "pad: F.pad writes aten.pad",
        "reflection_pad1d.default": "pad: F.pad(mode='reflect') writes aten.pad",
        "reflection_pad2d.default": "pad: F.pad(mode='reflect') writes aten.pad",
    }.items()},
    **{f"aten.{op}": _EDGE.format(view) for op, view in {
        "alias_copy.default": "alias", "as_strided_copy.default": "as_strided", "detach_copy.default": "detach",
        "expand_copy.default": "expand", "permute_copy.default": "permute", "select_copy.int": "select",
        "slice_copy.Tensor": "slice", "split_copy.Tensor": "split",
        "split_with_sizes_copy.default": "split_with_sizes", "squeeze_copy.default": "squeeze",
        "squeeze_copy.dim": "squeeze", "squeeze_copy.dims": "squeeze", "t_copy.default": "t",
        "transpose_copy.int": "transpose", "unfold_copy.default": "unfold", "unsqueeze_copy.default": "unsqueeze",
        "view_as_complex_copy.default": "view_as_complex", "view_as_real_copy.default": "view_as_real",
        "view_copy.default": "view",
    }.items()},
    "aten.div.Scalar": _WRAPPED.format("x / 2.0", "aten.div.Tensor"),
    "aten.mul.Scalar": _WRAPPED.format("x * 2.0", "aten.mul.Tensor"),
    "aten.where.default": ("torch.where(cond) with one argument returns index tensors of a data-dependent size: "
                           "export needs unbacked symbols, and a case holds static shapes"),
    "aten.alias.default": "no Python spelling writes it: only torch.ops.aten.alias called by name",
    "aten.to.dtype_layout": ("no Python spelling of Tensor.to writes it in torch 2.13 (x.to(dtype=..., layout=...) "
                             "is refused; x.to(dtype) writes aten.to.dtype, x.to(device, dtype) aten.to.device)"),
}

_NOT_YET: dict[str, str] = {
    **{f"aten.{op}": ("a recurrent module (nn.RNN, nn.LSTMCell): not generated yet (nn.GRU and nn.LSTM are, "
                      "harness.strategies.op_recurrent; these take the same weights list)")
       for op in ("rnn_tanh.input", "rnn_relu.input", "lstm_cell.default")},
    "aten.col2im.default": "F.fold: its input must be shaped as F.unfold's output; not generated yet",
    "aten.detach_.default": ("written by export around a tensor literal created in forward (torch.tensor(...)); "
                             "the strategy's tensors are inputs and attributes; not generated yet"),
    "aten.lift_fresh_copy.default": ("written by export for a tensor literal created in forward (torch.tensor(...)); "
                                     "the strategy's tensors are inputs and attributes; not generated yet"),
    "aten.index_put_.default": "an in-place index write (x[idx] = v) on an activation; not generated yet (the "
                               "out-of-place aten.index_put is)",
    "aten.index_copy_.default": "an in-place x.index_copy_ on an activation; not generated yet (the out-of-place "
                                "aten.index_copy is)",
    "aten.masked_fill.Tensor": ("its fill value is a 0-dim tensor: the strategy keeps every value at least 1-d "
                                "(aten.masked_fill.Scalar is generated)"),
    "aten.mean.default": "a full reduction gives a 0-dim tensor: the strategy keeps every value at least 1-d",
    "aten.sum.default": "a full reduction gives a 0-dim tensor: the strategy keeps every value at least 1-d",
    "aten.scalar_tensor.default": "a 0-dim tensor: the strategy keeps every value at least 1-d",
    "aten.rand.default": ("random values, drawn again on every run: the reference and the candidate would calibrate "
                          "on different values; not generated"),
    "aten.randn.default": ("random values, drawn again on every run: the reference and the candidate would "
                           "calibrate on different values; not generated"),
    "aten.squeeze_.dim": "an in-place view op (x.squeeze_(d)); not generated yet",
    "aten.view_as_complex.default": "complex values (no quantizer observes them); not generated yet",
    "aten.view_as_real.default": "reads complex values; not generated yet",
    "aten.acosh.default": "defined on [1, inf) only (no generated value is known to be there); not generated yet",
    "aten.sin.default": ("the harness's tests use aten.sin as their example of an op outside the allow-list "
                         "(tests/fx/test_build.py, tests/fx/test_extract_real_models.py, tests/fx/test_ops.py, "
                         "tests/case/test_corpus_malformed.py); move that example to another op to generate it"),
}

REASONS: dict[str, str] = {**_UNPRODUCIBLE, **_NOT_YET}
UNPRODUCIBLE: frozenset[str] = frozenset(_UNPRODUCIBLE)
