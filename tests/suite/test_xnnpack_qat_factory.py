"""``harness.quantizers:xnnpack`` leaves torchao's QAT-only conv-bn patterns out on graphs without a batch norm (they
cannot match there, and each annotate() would export them anew): the annotations are upstream's."""

from __future__ import annotations

import torch
from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

from harness.fx.extract import extract_case
from harness.quantizers import xnnpack


class _ConvLinear(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.linear = torch.nn.Linear(4 * 6 * 6, 5)

    def forward(self, x):
        return self.linear(torch.relu(self.conv(x)).flatten(1)) + 1.0


def _annotated(quantizer):
    gm = torch.export.export(_ConvLinear(), (torch.randn(2, 3, 8, 8),)).module()
    quantizer.annotate(gm)
    return extract_case(gm, is_qat=True).annotations


def test_without_a_batch_norm_the_qat_annotations_are_upstreams():
    upstream = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=True))
    ours = _annotated(xnnpack(is_qat=True))
    assert ours and ours == _annotated(upstream)
    assert type(xnnpack()).STATIC_QAT_ONLY_OPS == XNNPACKQuantizer.STATIC_QAT_ONLY_OPS  # the class is untouched
