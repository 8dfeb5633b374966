"""``harness.pattern_exports``: torchao's pattern exports made once per process give the graphs upstream's make, so
``prepare_qat_pt2e``'s conv-bn rewrite (as the quantizer suite runs it) writes the same graph, and exports nothing
the second time."""

from __future__ import annotations

import torch
import torchao.quantization.pt2e.qat_utils as qat_utils
from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

from harness import pattern_exports
from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.source import quantizer_source


class _ConvBn(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)
        self.conv1d = torch.nn.Conv1d(4, 4, 1, bias=False)
        self.bn1d = torch.nn.BatchNorm1d(4)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        return self.bn1d(self.conv1d(y.flatten(2)))


def _exported():
    return torch.export.export(_ConvBn().train(), (torch.randn(2, 3, 8, 8),)).module()


def _shape(gm) -> list[tuple[str, str]]:
    return [(n.op, str(n.target)) for n in gm.graph.nodes]


def _upstream_qat() -> XNNPACKQuantizer:
    return XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=True))


def test_the_qat_rewrite_with_patterns_exported_once_writes_upstreams_graph_and_exports_nothing_again(monkeypatch):
    want = _exported()
    quantizer = _upstream_qat()
    quantizer.annotate(want)
    qat_utils._fuse_conv_bn_qat(want)  # torchao's own step, every pattern exported anew
    assert any("batch_norm" in str(n.target) for n in want.graph.nodes)  # rewritten, not removed: the QAT form
    monkeypatch.setattr(pattern_exports, "PATTERNS", {})
    calls = []
    real = qat_utils._get_aten_graph_module_for_pattern
    monkeypatch.setattr(qat_utils, "_get_aten_graph_module_for_pattern",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    source = quantizer_source(_upstream_qat, is_qat=True)
    first = run_quantizer(_exported(), source, 0)
    made = len(calls)
    again = run_quantizer(_exported(), source, 0)
    assert not first.failed and not again.failed
    assert _shape(first.gm) == _shape(want) == _shape(again.gm)  # both conv-bn pairs rewritten as upstream does
    assert made == len(pattern_exports.PATTERNS) > 0 and len(calls) == made  # none the second time


def test_a_pattern_with_keyword_inputs_is_exported_every_time(monkeypatch):
    monkeypatch.setattr(pattern_exports, "PATTERNS", {})
    seen = []

    class Module:
        @staticmethod
        def _get_aten_graph_module_for_pattern(pattern, example_inputs, is_cuda=False, **kwargs):
            seen.append(kwargs)
            return torch.fx.symbolic_trace(torch.nn.Identity())

    def pattern(x):
        return x

    with pattern_exports.exported_once(Module):
        for _ in range(2):
            Module._get_aten_graph_module_for_pattern(pattern, (torch.randn(1),), False, scale=torch.ones(1))
            Module._get_aten_graph_module_for_pattern(pattern, (torch.randn(2),), False)
            Module._get_aten_graph_module_for_pattern(pattern, (torch.randn(2),), False)
    assert len(seen) == 3  # twice with kwargs, once for the shape (2,): a key per shape, never for kwargs
