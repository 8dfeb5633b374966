"""prepare_pt2e fuses batch norms before the quantizer runs: a failure there is upstream's, never the harness's error
and never the quantizer's."""

from __future__ import annotations

import torch

from harness.suite.checks.quantizer_run import GROUPED_CONV_TRANSPOSE_BN, run_quantizer
from harness.quantizers import xnnpack
from harness.suite.source import quantizer_source


class _GroupedDeconvBN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.deconv = torch.nn.ConvTranspose2d(4, 4, 3, padding=1, groups=2, bias=False)
        self.bn = torch.nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.deconv(x))


def test_the_open_upstream_fusion_bug_is_known_not_an_error_of_the_harness():
    gm = torch.export.export(_GroupedDeconvBN().eval(), (torch.randn(1, 4, 6, 6),)).module()
    ann = run_quantizer(gm, quantizer_source(xnnpack), 60, "a grouped deconv and a batch norm")
    (problem,) = ann.problems
    assert ann.failed and problem.level == "known", problem
    assert GROUPED_CONV_TRANSPOSE_BN in problem.message and "RuntimeError" in problem.message
