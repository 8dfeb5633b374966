"""A quantizer that refuses an op ("not supported") is not a buggy quantizer; one that crashes is. The root cause of
a wrapped error is what the report shows (Arm's pass manager wraps its passes' errors in a bare Exception)."""

from __future__ import annotations

import torch
from torchao.quantization.pt2e.quantizer import Quantizer

from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.describe import REFUSED, is_refusal, root_cause
from harness.suite.source import quantizer_source


class _Wrapping(Quantizer):
    """Wraps what its transform raises, as a pass manager does."""

    inner: Exception = RuntimeError("Argmax is not supported by the arm_quantizer")

    def transform_for_annotation(self, model):
        try:
            raise self.inner
        except Exception as e:
            raise Exception("An error occurred when running the 'ConvertMinMaxPass' pass") from e

    def annotate(self, model):
        return model

    def validate(self, model):
        pass


class _Crashing(_Wrapping):
    inner = IndexError("tuple index out of range")


def _graph():
    class M(torch.nn.Module):
        def forward(self, x):
            return torch.relu(x)

    return torch.export.export(M(), (torch.randn(2, 3),)).module()


def test_the_root_cause_is_read_through_the_wrapper():
    try:
        _Wrapping().transform_for_annotation(None)
    except Exception as e:
        assert isinstance(root_cause(e), RuntimeError) and is_refusal(e)


def test_a_refusal_is_a_warning_naming_its_cause():
    (problem,) = run_quantizer(_graph(), quantizer_source(_Wrapping), 30).problems
    assert problem.level == "warning" and problem.message.startswith(REFUSED)
    assert "caused by RuntimeError: Argmax is not supported" in problem.message


def test_a_wrapped_crash_is_an_error_naming_its_cause():
    (problem,) = run_quantizer(_graph(), quantizer_source(_Crashing), 30).problems
    assert problem.level == "error" and "caused by IndexError: tuple index out of range" in problem.message


def test_a_refusal_in_a_quantizer_campaign_is_a_refused_finding_that_fails_only_strict():
    from pathlib import Path

    from harness.case.files import iter_cases
    from harness.check.run import upstream_prepare
    from harness.fuzz.config import CampaignConfig, CampaignResult, Finding, exit_status
    from harness.suite.checks.quantizer_case import check_with_quantizer

    corpus = Path(__file__).resolve().parents[2] / "corpus" / "conformance"
    case = next(c for _, c in iter_cases(corpus))
    verdict = check_with_quantizer(case, quantizer_source(_Wrapping), upstream_prepare())
    assert verdict.failed and verdict.triage == "refused", verdict
    assert verdict.signature.startswith("annotate: refused: RuntimeError")
    found = Finding(verdict.signature, None, None, None, "x.json", "...", 3, 1.0, 1.0, triage="refused")
    result = CampaignResult(5, 1.0, [found])
    assert not found.is_new and exit_status(result, CampaignConfig()) == 0
    assert exit_status(result, CampaignConfig(strict=True)) == 1
    crash = check_with_quantizer(case, quantizer_source(_Crashing), upstream_prepare())
    assert crash.failed and crash.triage == "new"
