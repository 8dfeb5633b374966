"""What the tests of the quantizer suite's pieces share (tests/suite/test_quantizer_suite.py and
tests/suite/test_quantizer_runs.py): an int8 activation spec ``ACT``, ``_mlp`` (the exported ``mlp`` model and its
linear nodes) and ``_messages`` (the messages of a check's problems)."""

from __future__ import annotations

import torch
from torchao.quantization.pt2e.observer import MinMaxObserver
from torchao.quantization.pt2e.quantizer import QuantizationSpec

from harness.suite.subjects import models

ACT = QuantizationSpec(torch.int8, MinMaxObserver, -128, 127, torch.per_tensor_affine)


def _mlp():
    gm = models.export_model("mlp")
    linears = [n for n in gm.graph.nodes if n.target == torch.ops.aten.linear.default]
    return gm, linears


def _messages(problems) -> list[str]:
    return [p.message for p in problems]
