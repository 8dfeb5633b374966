"""prepare_pt2e fuses batch norms before the quantizer runs, prepare_qat_pt2e rewrites conv-bn after it: a failure
there is upstream's, never the harness's error and never the quantizer's."""

from __future__ import annotations

import pytest
import torch

from harness.case import Case, Graph, Node, Ref, TensorMeta
from harness.check.run import UPSTREAM, load_function
from harness.quantizers import xnnpack
from harness.suite.checks.pipeline_bugs import GROUPED_CONV_TRANSPOSE_BN, QAT_BN_WITHOUT_AFFINE, bug_of, none_for_tensor
from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.fuzz_target import check_with_quantizer
from harness.suite.source import qat_variant, quantizer_source


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
    assert GROUPED_CONV_TRANSPOSE_BN.link in problem.message and "RuntimeError" in problem.message


class _ConvBN(torch.nn.Module):
    def __init__(self, affine: bool, transposed: bool = False) -> None:
        super().__init__()
        self.conv = torch.nn.ConvTranspose1d(4, 4, 3) if transposed else torch.nn.Conv2d(4, 4, 3)
        self.bn = (torch.nn.BatchNorm1d if transposed else torch.nn.BatchNorm2d)(4, affine=affine)

    def forward(self, x):
        return self.bn(self.conv(x))


def _qat_run(affine: bool, transposed: bool = False):
    example = torch.randn(1, 4, 8) if transposed else torch.randn(1, 4, 8, 8)
    gm = torch.export.export(_ConvBN(affine, transposed).train(), (example,)).module()
    return run_quantizer(gm, qat_variant(quantizer_source(xnnpack)), 60, "a conv and a batch norm")


@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose1d"])
def test_the_qat_rewrite_of_a_batch_norm_without_affine_is_a_known_upstream_bug(transposed):
    ann = _qat_run(affine=False, transposed=transposed)
    (problem,) = ann.problems
    assert ann.failed and problem.level == "known", problem
    assert bug_of(problem.message) is QAT_BN_WITHOUT_AFFINE
    assert "'self'" in problem.message and "aten.div.Tensor" in problem.message  # the op torchao wrote


def test_the_qat_rewrite_of_an_affine_batch_norm_runs_and_is_no_finding():
    ann = _qat_run(affine=True)
    assert not ann.failed and not [p for p in ann.problems if p.level != "note"], ann.problems
    assert none_for_tensor(ann.gm) is None


def test_the_quantizer_campaign_reports_it_as_known_not_as_the_harness_failing():
    graph = Graph((Node("x", "placeholder", tensor=TensorMeta((1, 4, 8, 8))),
                   Node("w", "get_attr", "w", tensor=TensorMeta((4, 4, 3, 3)), attr_kind="parameter"),
                   Node("mean", "get_attr", "mean", tensor=TensorMeta((4,)), attr_kind="buffer"),
                   Node("var", "get_attr", "var", tensor=TensorMeta((4,)), attr_kind="buffer"),
                   Node("conv2d", "call_function", "aten.conv2d.default", (Ref("x"), Ref("w"))),
                   Node("batch_norm", "call_function", "aten.batch_norm.default",
                        (Ref("conv2d"), None, None, Ref("mean"), Ref("var"), True, 0.1, 1e-05, True)),
                   Node("output", "output", args=((Ref("batch_norm"),),))))
    source = quantizer_source(xnnpack)
    verdict = check_with_quantizer(Case(graph, (), is_qat=True), qat_variant(source), load_function(UPSTREAM))
    assert verdict.failed and verdict.triage == "known" and verdict.known is QAT_BN_WITHOUT_AFFINE, verdict.text
    assert verdict.signature == QAT_BN_WITHOUT_AFFINE.id
    ptq = check_with_quantizer(Case(graph, ()), source, load_function(UPSTREAM))
    assert not ptq.failed, ptq.text  # prepare_pt2e folds the same batch norm into the conv: no bug there
