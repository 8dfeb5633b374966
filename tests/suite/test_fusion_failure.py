"""prepare_pt2e fuses batch norms before the quantizer runs, prepare_qat_pt2e rewrites conv-bn after it: a failure
there is upstream's, never the harness's error and never the quantizer's."""

from __future__ import annotations

import pytest
import torch

from harness.case import Case, Graph, Node, Ref, TensorMeta
from harness.check.run import UPSTREAM, load_function
from harness.quantizers import xnnpack
from harness.suite.checks.graph_checks import check_graph
from harness.suite.checks.pipeline_bugs import (GROUPED_CONV_TRANSPOSE_BN, LINEAR_BN_WITHOUT_AFFINE,
                                              QAT_BN_WITHOUT_AFFINE, QAT_GROUPED_CONV_TRANSPOSE_BN, bug_of,
                                              cannot_run, none_for_tensor)
from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.checks.quantizer_case import check_with_quantizer
from harness.suite.options import SuiteOptions
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


def _conv_bn_graph(affine: bool) -> Graph:
    """x -> conv2d -> batch_norm (training, 4 channels, with or without its weight and bias) -> output."""
    params = tuple(Node(n, "get_attr", n, tensor=TensorMeta((4,)), attr_kind="parameter") for n in ("g", "b")
                   if affine)
    return Graph((Node("x", "placeholder", tensor=TensorMeta((1, 4, 8, 8))),
                  Node("w", "get_attr", "w", tensor=TensorMeta((4, 4, 3, 3)), attr_kind="parameter"),
                  *params,
                  Node("mean", "get_attr", "mean", tensor=TensorMeta((4,)), attr_kind="buffer"),
                  Node("var", "get_attr", "var", tensor=TensorMeta((4,)), attr_kind="buffer"),
                  Node("conv2d", "call_function", "aten.conv2d.default", (Ref("x"), Ref("w"))),
                  Node("batch_norm", "call_function", "aten.batch_norm.default",
                       (Ref("conv2d"), *((Ref("g"), Ref("b")) if affine else (None, None)), Ref("mean"), Ref("var"),
                        True, 0.1, 1e-05, True)),
                  Node("output", "output", args=((Ref("batch_norm"),),))))


def test_the_quantizer_campaign_reports_it_as_known_not_as_the_harness_failing():
    graph = _conv_bn_graph(affine=False)
    source = quantizer_source(xnnpack)
    verdict = check_with_quantizer(Case(graph, (), is_qat=True), qat_variant(source), load_function(UPSTREAM))
    assert verdict.failed and verdict.triage == "known" and verdict.known is QAT_BN_WITHOUT_AFFINE, verdict.text
    assert verdict.signature == QAT_BN_WITHOUT_AFFINE.id
    ptq = check_with_quantizer(Case(graph, ()), source, load_function(UPSTREAM))
    assert not ptq.failed, ptq.text  # prepare_pt2e folds the same batch norm into the conv: no bug there


class _LinearBN(torch.nn.Module):
    def __init__(self, affine: bool) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 8)
        self.bn = torch.nn.BatchNorm1d(8, affine=affine)

    def forward(self, x):
        return self.bn(self.linear(x))


@pytest.mark.parametrize("affine", [True, False])
def test_the_linear_bn_fold_of_a_batch_norm_without_affine_is_a_known_upstream_bug(affine):
    """prepare_pt2e's _fuse_linear_bn_ hands None (no weight) to torch's fuse_linear_bn_weights: a TypeError before
    the quantizer runs, whatever the quantizer: known, never the quantizer's failure (affine=True: folded, fine)."""
    gm = torch.export.export(_LinearBN(affine).eval(), (torch.randn(2, 8),)).module()
    ann = run_quantizer(gm, quantizer_source(xnnpack), 60, "a linear and a batch norm without affine")
    if affine:
        assert not ann.failed and not [p for p in ann.problems if p.level != "note"], ann.problems
        return
    (problem,) = ann.problems
    assert ann.failed and problem.level == "known", problem
    assert bug_of(problem.message) is LINEAR_BN_WITHOUT_AFFINE and "TypeError" in problem.message


def test_a_linear_of_a_3d_input_is_not_folded_so_it_is_not_that_bug():
    gm = torch.export.export(_LinearBN(False).eval(), (torch.randn(2, 8, 8),)).module()
    assert not LINEAR_BN_WITHOUT_AFFINE.shape(gm)  # torchao leaves it alone (pytorch/ao#4116): no fold, no failure
    assert not run_quantizer(gm, quantizer_source(xnnpack), 60, "a linear of a 3-D input").failed


class _DeconvBN(torch.nn.Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.deconv = torch.nn.ConvTranspose2d(4, 4, 2, groups=groups)
        self.bn = torch.nn.BatchNorm2d(4)
        self.register_buffer("state", torch.zeros(1, 4, 9, 9))

    def forward(self, x):
        y = self.bn(self.deconv(x))
        self.state.add_(y)  # an in-place write: running the graph on fake inputs must not make it
        return y


@pytest.mark.parametrize("groups", [1, 2])
def test_the_qat_rewrite_of_a_grouped_transposed_conv_is_a_known_upstream_bug(groups):
    """torchao scales a transposed conv's weight along dimension 1 by every output channel; with groups > 1 the
    graph it writes cannot run. Found by running that graph on fake inputs: before, the plugin's QAT random graphs
    crashed on it with the harness's own BuildError."""
    gm = torch.export.export(_DeconvBN(groups).train(), (torch.randn(1, 4, 8, 8),)).module()
    ann = run_quantizer(gm, qat_variant(quantizer_source(xnnpack)), 60, "a grouped transposed conv and a batch norm")
    assert torch.equal(ann.gm.state, torch.zeros(1, 4, 9, 9))
    if groups == 1:
        assert not ann.failed and not [p for p in ann.problems if p.level != "note"], ann.problems
        assert cannot_run(ann.gm) is None
        return
    (problem,) = ann.problems
    assert ann.failed and problem.level == "known", problem
    assert bug_of(problem.message) is QAT_GROUPED_CONV_TRANSPOSE_BN, problem.message
    assert "cannot run: running it raises RuntimeError" in problem.message


def test_a_graph_that_cannot_run_is_never_a_crash_of_the_plugin():
    """The random graph of the plugin's QAT run that raised BuildError out of the prepare check: now known."""
    graph = Graph((Node("x", "placeholder", tensor=TensorMeta((1, 4, 8, 8))),
                   Node("w", "get_attr", "w", tensor=TensorMeta((4, 2, 2, 2)), attr_kind="parameter"),
                   Node("bn_w", "get_attr", "bn_w", tensor=TensorMeta((4,)), attr_kind="parameter"),
                   Node("bn_b", "get_attr", "bn_b", tensor=TensorMeta((4,)), attr_kind="parameter"),
                   Node("mean", "get_attr", "mean", tensor=TensorMeta((4,)), attr_kind="buffer"),
                   Node("var", "get_attr", "var", tensor=TensorMeta((4,)), attr_kind="buffer"),
                   Node("deconv", "call_function", "aten.conv_transpose2d.input",
                        (Ref("x"), Ref("w"), None, (2, 2), (0, 0), (0, 0), 2)),
                   Node("batch_norm", "call_function", "aten.batch_norm.default",
                        (Ref("deconv"), Ref("bn_w"), Ref("bn_b"), Ref("mean"), Ref("var"), True, 0.1, 1e-05, True)),
                   Node("relu", "call_function", "aten.relu.default", (Ref("batch_norm"),)),
                   Node("output", "output", args=((Ref("relu"),),))))
    verdict = check_graph(graph, qat_variant(quantizer_source(xnnpack)), SuiteOptions(profile="ci"))
    assert verdict.unusable is None and verdict.gm is not None
    (problem,) = [p for p in verdict.problems if p.level != "note"]
    assert problem.level == "known" and bug_of(problem.message) is QAT_GROUPED_CONV_TRANSPOSE_BN, problem


class _BatchNormInput:
    """A quantizer that annotates each conv (input, weight, output) and each batch norm's input edge (as ExecuTorch's Arm
    quantizers do): torchao's QAT conv-bn rewrite then leaves the batch norm's annotation keyed by the conv, which
    is no longer its input (bug 4 of docs/upstream-bugs.md)."""

    def __init__(self, is_qat: bool = False) -> None:
        self.is_qat = is_qat

    def transform_for_annotation(self, gm):
        return gm

    def annotate(self, gm):
        from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, QuantizationSpec

        spec = QuantizationSpec(torch.int8, torch.ao.quantization.observer.MinMaxObserver.with_args(eps=2 ** -12),
                                quant_min=-128, quant_max=127, qscheme=torch.per_tensor_affine)
        for node in gm.graph.nodes:
            if node.target is torch.ops.aten.conv2d.default:
                node.meta["quantization_annotation"] = QuantizationAnnotation(
                    input_qspec_map={node.args[0]: spec, node.args[1]: spec}, output_qspec=spec, _annotated=True)
            if node.target is torch.ops.aten.batch_norm.default:
                node.meta["quantization_annotation"] = QuantizationAnnotation(input_qspec_map={node.args[0]: spec},
                                                                              _annotated=True)
        return gm

    def validate(self, gm):
        pass


def test_a_failure_after_the_qat_rewrite_saves_the_graph_the_quantizer_was_given():
    """The well-formedness check reads the graph after ``prepare_qat_pt2e``'s conv-bn rewrite, which the quantizer
    never saw: the finding saves the drawn graph (conv and batch norm), so checking it again fails again; the
    rewritten graph would be annotated afresh and pass (the Arm mutants' findings were left unjudged that way)."""
    graph = _conv_bn_graph(affine=True)
    source, candidate = quantizer_source(_BatchNormInput, is_qat=True), load_function(UPSTREAM)
    verdict = check_with_quantizer(Case(graph, (), is_qat=True), source, candidate)
    assert verdict.failed and verdict.signature == "well_formed: NotAnInputError", verdict.text
    assert verdict.case.graph == graph and not verdict.case.annotations
    again = check_with_quantizer(verdict.case, source, candidate)
    assert again.failed and again.signature == verdict.signature
