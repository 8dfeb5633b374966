"""``harness.quantizers:xnnpack`` has torchao's QAT-only conv-bn patterns do only their dead-code elimination on graphs
without a batch norm (they cannot match there, and each annotate() would export them anew): the graph and the
annotations are upstream's, a dead node removed as upstream removes it."""

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


class _UnusedPool(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.linear = torch.nn.Linear(8, 4)

    def forward(self, x):
        self.pool(x)  # dead: upstream's QAT conv-bn annotators eliminate it before the pool's annotator runs
        return self.linear(x)


def _graph_and_annotations(quantizer):
    gm = torch.export.export(_UnusedPool(), (torch.randn(1, 3, 8, 8),)).module()
    quantizer.annotate(gm)
    return [(n.name, str(n.target)) for n in gm.graph.nodes], extract_case(gm, is_qat=True).annotations


def test_a_dead_node_is_eliminated_as_upstream_eliminates_it_in_qat():
    """Upstream QAT runs the conv-bn annotators first, and each begins with a dead-code elimination: the unused
    pool is gone before ``_annotate_adaptive_avg_pool2d`` (which crashes on it in PTQ, upstream bug 23). Skipping
    those annotators outright left the pool and made a crash upstream does not have (a false alarm)."""
    from torchao.testing.pt2e._xnnpack_quantizer_utils import OP_TO_ANNOTATOR

    before = dict(OP_TO_ANNOTATOR)
    upstream = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=True))
    want = _graph_and_annotations(upstream)
    assert "pool" not in str(want[0]) and want[1]
    assert _graph_and_annotations(xnnpack(is_qat=True)) == want
    assert OP_TO_ANNOTATOR == before  # restored after annotate()


class _ConvBnRelu(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)
        self.conv1d = torch.nn.Conv1d(4, 4, 1)
        self.bn1d = torch.nn.BatchNorm1d(4)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        return self.bn1d(self.conv1d(y.flatten(2)))


def test_with_a_batch_norm_each_pattern_is_exported_once_and_the_annotations_are_upstreams(monkeypatch):
    """On a graph with a batch norm the conv-bn annotators run in full; their pattern exports are made once per
    process (``harness.pattern_exports.exported_once``), and every later annotate() matches copies of them:
    the annotations are upstream's the first time and the next, and the second annotate() exports nothing."""
    import torchao.testing.pt2e._xnnpack_quantizer_utils as utils

    from harness import pattern_exports

    def annotated(quantizer):
        gm = torch.export.export(_ConvBnRelu().train(), (torch.randn(2, 3, 8, 8),)).module()
        quantizer.annotate(gm)
        return extract_case(gm, is_qat=True).annotations

    upstream = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=True))
    want = annotated(upstream)
    assert len(want) >= 4  # both conv-bn pairs matched
    monkeypatch.setattr(pattern_exports, "PATTERNS", {})
    exports = []
    real = utils._get_aten_graph_module_for_pattern
    monkeypatch.setattr(utils, "_get_aten_graph_module_for_pattern", lambda *a, **k: exports.append(1) or real(*a, **k))
    assert annotated(xnnpack(is_qat=True)) == want
    first = len(exports)
    assert first and len(pattern_exports.PATTERNS) == first
    assert annotated(xnnpack(is_qat=True)) == want and len(exports) == first
    assert utils._get_aten_graph_module_for_pattern.__name__ == "<lambda>"  # restored after annotate()
