"""The ``pt2e`` plugin's QAT checks (``[qat]`` tests: a factory taking ``is_qat``, or ``--pt2e-qat-quantizer``) and
its ``--pt2e-html`` page, run with pytester as in ``test_plugin.py`` (the ``broken`` fixture and helpers of
``plugin_runs.py``)."""

from __future__ import annotations

import re

import pytest

from plugin_runs import SMALL, _lit, _outcome_of, _run, broken  # noqa: F401 - broken is a fixture

pytest_plugins = ["pytester"]

QATQ = '''
from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config


def xnnpack_qat():
    """configured for QAT, no is_qat keyword"""
    return XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_qat=True))


def ptq_only():
    return XNNPACKQuantizer().set_global(get_symmetric_quantization_config())


def refuses_qat(is_qat=False):
    if is_qat:
        raise ValueError("no QAT configuration here")
    return ptq_only()
'''

MLP_CHECKS = ("annotate[mlp]", "well_formed[mlp]", "prepare[mlp]", "numerics[mlp]", "coverage")


@pytest.fixture
def qat(broken: pytest.Pytester) -> pytest.Pytester:  # noqa: F811 - the imported fixture
    broken.makepyfile(qatq=QATQ)
    return broken


def _ids(result: pytest.RunResult, spec: str) -> list[str]:
    prefix = f"pt2e[{spec}]::"
    return [line.split(" ")[0][len(prefix):] for line in result.outlines
            if line.startswith(prefix) and re.search(r" (PASSED|FAILED|SKIPPED|XFAIL|ERROR)", line)]


def _sqnr(result: pytest.RunResult, quantizer: str) -> float:
    """The mlp row's SQNR in the summary table of ``quantizer``."""
    start = result.outlines.index(quantizer)
    row = next(line for line in result.outlines[start + 1:] if line.strip().startswith("mlp "))
    return float(row.split()[-1])


@pytest.mark.slow
def test_a_factory_taking_is_qat_is_checked_for_ptq_and_qat(qat: pytest.Pytester) -> None:
    spec = "harness.quantizers:xnnpack"
    result = _run(qat, f"--pt2e-quantizer={spec}", *SMALL)
    result.assert_outcomes(passed=10)
    assert _ids(result, spec) == [*MLP_CHECKS, *(f"{c}[qat]" for c in MLP_CHECKS)]
    assert _sqnr(result, spec) >= 15
    assert _sqnr(result, f"{spec} [qat]") >= 10  # the QAT floor (--pt2e-qat-sqnr-min)


@pytest.mark.slow
def test_the_qat_option_checks_a_quantizer_configured_for_qat_only(qat: pytest.Pytester) -> None:
    result = _run(qat, "--pt2e-qat-quantizer=qatq:xnnpack_qat", *SMALL)
    result.assert_outcomes(passed=5)
    assert _ids(result, "qatq:xnnpack_qat") == [f"{c}[qat]" for c in MLP_CHECKS]
    result.stdout.fnmatch_lines([_lit("qatq:xnnpack_qat [qat]"), "  mlp * passed*passed*passed*passed *"])


@pytest.mark.slow
def test_the_qat_floor_is_its_own_option(qat: pytest.Pytester) -> None:
    result = _run(qat, "--pt2e-qat-quantizer=qatq:xnnpack_qat", "--pt2e-qat-sqnr-min=99", "--pt2e-sqnr-min=0",
                  *SMALL)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*SQNR * dB is below the minimum 99 dB (--pt2e-qat-sqnr-min)*"])


def test_a_factory_without_is_qat_gets_no_qat_tests(qat: pytest.Pytester) -> None:
    result = _run(qat, "--pt2e-quantizer=qatq:ptq_only", *SMALL)
    result.assert_outcomes(passed=5)
    assert _ids(result, "qatq:ptq_only") == list(MLP_CHECKS)


def test_a_factory_failing_for_qat_is_one_failing_qat_test(qat: pytest.Pytester) -> None:
    result = _run(qat, "--pt2e-quantizer=qatq:refuses_qat", *SMALL)
    result.assert_outcomes(passed=5, failed=1)
    assert _outcome_of(result, "pt2e[qatq:refuses_qat]::load[qat]") == "FAILED"
    result.stdout.fnmatch_lines(["*cannot load the quantizer: qatq:refuses_qat [[]qat[]]: the factory raised "
                                 "ValueError: no QAT configuration here*"])


@pytest.mark.slow
def test_the_qat_quantizer_is_an_ini_option_too(qat: pytest.Pytester) -> None:
    qat.makeini("[pytest]\npt2e_qat_quantizer = qatq:xnnpack_qat\npt2e_models = mlp\npt2e_examples = 0\n")
    result = _run(qat, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    assert all(i.endswith("[qat]") for i in _ids(result, "qatq:xnnpack_qat"))


@pytest.mark.slow
def test_one_line_in_a_test_module_runs_qat_for_a_factory_taking_is_qat(qat: pytest.Pytester) -> None:
    qat.makepyfile(test_mine="from harness.plugin import quantizer_suite_tests\n"
                             "import qatq\n"
                             "test_both = quantizer_suite_tests(qatq.refuses_qat, label='mine', qat=False)\n"
                             "test_qat = quantizer_suite_tests(qatq.xnnpack_qat, qat=True)\n")
    result = _run(qat, *SMALL)
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(["*test_mine.py::test_both[[]annotate[[]mlp[]][]] PASSED*",
                                 "*test_mine.py::test_qat[[]annotate[[]mlp[]][[]qat[]][]] PASSED*"])
    assert "test_both[annotate[mlp][qat]]" not in result.stdout.str()


# ---- --pt2e-html ---------------------------------------------------------------------------------


def test_html_report_of_the_findings_written_in_the_run(qat: pytest.Pytester) -> None:
    result = _run(qat, "--pt2e-quantizer=brokenq:Cyclic", "--pt2e-html=out/report.html", *SMALL)
    result.assert_outcomes(passed=2, failed=1, skipped=2)
    page = (qat.path / "out" / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") or page.lstrip().lower().startswith("<!doctype html")
    assert "Cyclic well_formed model &#x27;mlp&#x27;" in page or "Cyclic well_formed model 'mlp'" in page
    assert "<script src=" not in page and "<link " not in page  # self-contained
    result.stdout.fnmatch_lines(["HTML report of 1 finding(s) written to *report.html"])


def test_html_report_is_written_with_no_findings_and_from_the_ini_file(qat: pytest.Pytester) -> None:
    qat.makeini("[pytest]\npt2e_html = page.html\n")
    result = _run(qat, "--pt2e-quantizer=brokenq:Good", *SMALL)
    result.assert_outcomes(passed=5)
    assert (qat.path / "page.html").is_file()
    result.stdout.fnmatch_lines(["HTML report of 0 finding(s) written to *page.html"])


@pytest.mark.slow
def test_html_report_under_xdist_holds_the_workers_findings(qat: pytest.Pytester) -> None:
    result = qat.runpytest_subprocess("-n", "2", "--pt2e-quantizer=brokenq:Cyclic",
                                      "--pt2e-quantizer=brokenq:Dangling", "--pt2e-html=report.html", *SMALL)
    result.assert_outcomes(passed=4, failed=2, skipped=4)
    page = (qat.path / "report.html").read_text()
    assert "Cyclic well_formed" in page and "Dangling well_formed" in page
    result.stdout.fnmatch_lines(["HTML report of 2 finding(s) written to *report.html"])
    assert not list(qat.path.glob(".report.html.*"))  # no temporary file left behind
