"""Upstream bugs in the steps ``prepare_pt2e``/``prepare_qat_pt2e`` run around the quantizer (torchao's batch-norm
fusions), judged from torchao's own output on the case: the quantizer is not at fault, and the finding is
``known`` with the bug's link.

The rule for each: torchao's step, run by the suite exactly as ``prepare_pt2e``/``prepare_qat_pt2e`` run it,
fails on this graph (it raises, or it writes a graph that cannot run, :func:`cannot_run`: an op given ``None`` where
its schema wants a tensor, or an error when the graph runs on fake inputs), and the graph has the shape the bug is
about (:attr:`PipelineBug.shape`). A failure of such a step on any other shape is an error that names the step,
never the quantizer's bug and never the harness's.

* ``pt-180995-grouped-conv-transpose-bn``: ``prepare_pt2e`` folds a batch norm into the transposed convolution
  before it, reading the weight as if ``groups`` were 1: a ``ConvTranspose`` with ``groups > 1`` then
  ``BatchNorm`` raises (pytorch/pytorch#180995).
* ``ao-qat-bn-without-affine``: ``prepare_qat_pt2e`` rewrites conv (transposed or not)→batch norm into its QAT form
  by pattern matching with literals ignored, so the pattern's batch-norm weight and bias match the ``None`` of a
  ``BatchNorm(affine=False)``, and the replacement computes ``div(None, running_std)``: the prepared model raises
  ``Expected a proper Tensor but got None`` on its first call (``torchao/quantization/pt2e/qat_utils.py``,
  ``_fuse_conv_bn_qat_helper``: ``replace_pattern_with_filters(..., ignore_literals=True)`` with no filter on the
  batch norm's affine arguments). Repro: ``repros/ao_qat_bn_without_affine.py``.
* ``ao-linear-bn-without-affine``: ``prepare_pt2e`` folds a batch norm that reads a linear (of a 2-D input) into the
  linear, passing the batch norm's weight and bias as they are to torch's ``fuse_linear_bn_weights``, which needs
  tensors: a ``BatchNorm1d(affine=False)`` has ``None`` there, and the fold raises ``TypeError`` before the quantizer
  runs, whatever the quantizer (``torchao/quantization/pt2e/utils.py``, ``fold_bn_weights_into_linear_node``; the
  conv fold does not fail: torch's ``fuse_conv_bn_weights`` fills in ones and zeros). Repro:
  ``repros/ao_linear_bn_without_affine.py``.
* ``ao-qat-grouped-conv-transpose-bn``: ``prepare_qat_pt2e`` rewrites a transposed convolution→batch norm into its QAT
  form, scaling the weight by the batch norm's per-channel factor reshaped along the weight's dimension 1
  (``torchao/quantization/pt2e/qat_utils.py``, ``_get_qat_conv_bn_pattern``); with ``groups > 1`` that dimension
  holds ``out_channels / groups``, not ``out_channels``, so the prepared model raises a shape error on its first call
  (the QAT form of ``pt-180995-grouped-conv-transpose-bn``). Found by the graph the rewrite wrote failing to run on
  fake inputs (:func:`cannot_run`). Repro: ``repros/ao_qat_grouped_conv_transpose_bn.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Optional

import torch
from torch.fx import GraphModule, Node

__all__ = ["PipelineBug", "PIPELINE_BUGS", "PTQ_FUSION_BUGS", "GROUPED_CONV_TRANSPOSE_BN", "QAT_BN_WITHOUT_AFFINE",
           "LINEAR_BN_WITHOUT_AFFINE", "QAT_GROUPED_CONV_TRANSPOSE_BN", "QAT_FUSION_BUGS", "none_for_tensor",
           "cannot_run", "conv_into_batch_norm", "tagged", "unjudged", "bug_of", "is_pipeline_failure"]


@dataclass(frozen=True)
class PipelineBug:
    """A known upstream bug of a step around the quantizer: ``id``, ``title`` and ``link`` (as a
    :class:`harness.check.known_bugs.KnownBug` has them), and ``shape``, whether a graph (before the step) has the
    shape the bug is about."""

    id: str
    title: str
    link: str
    shape: Callable[[GraphModule], bool]


def _users_of_convs(gm: GraphModule, transposed: Optional[bool] = None) -> Iterator[tuple[Node, Node]]:
    """(conv, batch norm) for each batch norm reading a convolution (only transposed ones, or only others)."""
    for node in gm.graph.nodes:
        name = str(node.target)
        if node.op == "call_function" and "conv" in name and transposed in (None, "conv_transpose" in name):
            for user in node.users:
                if "batch_norm" in str(user.target):
                    yield node, user


def conv_into_batch_norm(gm: GraphModule) -> bool:
    """Whether a batch norm reads a convolution: the only graphs ``prepare_qat_pt2e``'s conv-bn rewrite changes."""
    return next(_users_of_convs(gm), None) is not None


def _grouped_conv_transpose_into_batch_norm(gm: GraphModule) -> bool:
    for conv, _ in _users_of_convs(gm, transposed=True):
        if (conv.args[6] if len(conv.args) > 6 else conv.kwargs.get("groups", 1)) != 1:
            return True
    return False


def _without_affine(bn: Node) -> bool:
    return len(bn.args) < 3 or bn.args[1] is None or bn.args[2] is None


def _conv_into_batch_norm_without_affine(gm: GraphModule) -> bool:
    return any(_without_affine(bn) for _, bn in _users_of_convs(gm))


def _linear_into_batch_norm_without_affine(gm: GraphModule) -> bool:
    """A batch norm without weight or bias reading ``aten.linear`` of a 2-D input (what ``_fuse_linear_bn_`` folds;
    it leaves a linear of a higher-rank input alone)."""
    for node in gm.graph.nodes:
        if node.op != "call_function" or node.target != torch.ops.aten.linear.default:
            continue
        val = node.args[0].meta.get("val") if isinstance(node.args[0], Node) else None
        if isinstance(val, torch.Tensor) and val.ndim > 2:
            continue
        if any("batch_norm" in str(user.target) and _without_affine(user) for user in node.users):
            return True
    return False


GROUPED_CONV_TRANSPOSE_BN = PipelineBug(
    "pt-180995-grouped-conv-transpose-bn", "prepare_pt2e's batch-norm folding fails on a grouped ConvTranspose",
    "https://github.com/pytorch/pytorch/issues/180995", _grouped_conv_transpose_into_batch_norm)
QAT_BN_WITHOUT_AFFINE = PipelineBug(
    "ao-qat-bn-without-affine", "prepare_qat_pt2e's conv-bn rewrite divides None by the running std for a "
    "BatchNorm(affine=False)",
    "https://github.com/pytorch/ao/blob/v0.18.0/torchao/quantization/pt2e/qat_utils.py",
    _conv_into_batch_norm_without_affine)
LINEAR_BN_WITHOUT_AFFINE = PipelineBug(
    "ao-linear-bn-without-affine", "prepare_pt2e's linear-bn folding multiplies None for a BatchNorm1d(affine=False)",
    "https://github.com/pytorch/ao/blob/v0.18.0/torchao/quantization/pt2e/utils.py#L815-L860",
    _linear_into_batch_norm_without_affine)
QAT_GROUPED_CONV_TRANSPOSE_BN = PipelineBug(
    "ao-qat-grouped-conv-transpose-bn", "prepare_qat_pt2e's conv-bn rewrite scales a grouped ConvTranspose's weight "
    "by every output channel",
    "https://github.com/pytorch/ao/blob/v0.18.0/torchao/quantization/pt2e/qat_utils.py#L89-L130",
    _grouped_conv_transpose_into_batch_norm)
PIPELINE_BUGS: Mapping[str, PipelineBug] = {b.id: b for b in (GROUPED_CONV_TRANSPOSE_BN, QAT_BN_WITHOUT_AFFINE,
                                                               LINEAR_BN_WITHOUT_AFFINE, QAT_GROUPED_CONV_TRANSPOSE_BN)}
# the bugs of prepare_pt2e's batch-norm folding before annotate (``_fuse_conv_bn_``, ``_fuse_linear_bn_``)
PTQ_FUSION_BUGS: tuple[PipelineBug, ...] = (GROUPED_CONV_TRANSPOSE_BN, LINEAR_BN_WITHOUT_AFFINE)
# the bugs of prepare_qat_pt2e's conv-bn rewrite after validate (``_fuse_conv_bn_qat``), in the order they are named
QAT_FUSION_BUGS: tuple[PipelineBug, ...] = (QAT_BN_WITHOUT_AFFINE, QAT_GROUPED_CONV_TRANSPOSE_BN)


def none_for_tensor(gm: GraphModule) -> Optional[str]:
    """The first op of ``gm`` given ``None`` for an argument its schema types ``Tensor`` (not ``Tensor?``), in
    words; None when there is none. Such a graph raises when it runs."""
    for node in gm.graph.nodes:
        if node.op != "call_function" or not isinstance(node.target, torch._ops.OpOverload):
            continue
        for i, arg in enumerate(node.target._schema.arguments):
            given = node.args[i] if i < len(node.args) else node.kwargs.get(arg.name, arg.default_value)
            if given is None and isinstance(arg.type, torch.TensorType):
                return f"node {node.name!r} ({node.target}) is given None for its Tensor argument {arg.name!r}"
    return None


def cannot_run(gm: GraphModule) -> Optional[str]:
    """Why ``gm`` raises when it runs, in words (None when it runs, or when its inputs are not known): an op given
    ``None`` for a tensor (:func:`none_for_tensor`), else the error of running it on fake inputs shaped as its
    placeholders' values (nothing real is computed or written: buffers and node metadata stay as they are)."""
    broken = none_for_tensor(gm)
    if broken is not None:
        return broken
    from torch._subclasses.fake_tensor import FakeTensorMode

    vals = [n.meta.get("val") for n in gm.graph.nodes if n.op == "placeholder"]
    if not all(isinstance(v, torch.Tensor) for v in vals):
        return None
    mode = FakeTensorMode(allow_non_fake_inputs=True)
    log = logging.getLogger("torch._subclasses.fake_tensor")  # logs the error it raises: said once, below
    disabled, log.disabled = log.disabled, True
    try:
        inputs = [mode.from_tensor(torch.empty(v.shape, dtype=v.dtype)) for v in vals]
        with mode:
            torch.fx.Interpreter(gm).run(*inputs)
    except Exception as e:  # noqa: BLE001 - any error is the graph's: it would raise on real inputs too
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return f"running it raises {type(e).__name__}: {first[:300]}"
    finally:
        log.disabled = disabled
    return None


UNJUDGED = "(an upstream failure, not the quantizer's)"


def unjudged(text: str) -> str:
    """A problem's message for a failure of a step around the quantizer that no known bug names."""
    return f"{text}\n{UNJUDGED}"


def is_pipeline_failure(message: str) -> bool:
    """Whether a problem's message is a failure of a step around the quantizer (:func:`tagged` or
    :func:`unjudged`)."""
    return bug_of(message) is not None or message.endswith(UNJUDGED)


def tagged(bug: PipelineBug, text: str) -> str:
    """A problem's message naming ``bug`` (read back by :func:`bug_of`)."""
    return f"[{bug.id}] {bug.title}: {text} ({bug.link})"


def bug_of(message: str) -> Optional[PipelineBug]:
    """The bug a message made by :func:`tagged` names."""
    if message.startswith("["):
        return PIPELINE_BUGS.get(message[1:message.find("]")])
    return None
