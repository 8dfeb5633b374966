"""The suite's one registry of checks (``harness.suite.check_registry``): a check is one entry there and its own
module. The toy check below is registered by one entry (``monkeypatch.setitem``) and its runner lives in this file,
its own module; nothing else is edited, and the list of tests, the dispatch, the failure report, the plugin's items
and its run summary all follow."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.plugin.summary import summary_lines
from harness.suite.check_registry import SUITE_CHECKS, CheckSpec, check_spec, description
from harness.suite.dispatch import SuiteCheck, run_check, suite_checks
from harness.suite.options import SuiteOptions
from harness.suite.reporting.failure import format_result
from harness.suite.results import CheckResult, Problem
from harness.suite.source import QuantizerSource, quantizer_source
from harness.suite.subjects.subject import QUANTIZER, SCOPES, Subject
from plugin_runs import _lit, _outcome_of, _run, broken  # noqa: F401 - broken is a fixture

pytest_plugins = ["pytester"]


def toy_runner(subject: Subject, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """The toy check: every model but ``attention`` passes it."""
    result = CheckResult("toy", subject, source.label)
    if subject.name == "attention":
        result.problems.append(Problem("toy", "the toy rule does not hold on attention"))
    return result


TOY = CheckSpec("toy", "the toy rule holds", "model", toy_runner)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> CheckSpec:
    monkeypatch.setitem(SUITE_CHECKS, TOY.name, TOY)  # the one registry entry
    return TOY


class _Idle:
    """A quantizer the toy check never calls."""

    def annotate(self, gm):
        return gm

    def validate(self, gm) -> None:
        pass


def test_a_registered_check_is_listed_run_reported_and_summarised(toy: CheckSpec) -> None:
    options = SuiteOptions(models=("mlp", "attention"), examples=0)
    names = [c.name for c in suite_checks(options)]
    assert names[:5] == ["annotate[mlp]", "well_formed[mlp]", "prepare[mlp]", "numerics[mlp]", "toy[mlp]"]
    assert names[-2:] == ["toy[attention]", "coverage"]
    assert "toy[attention][qat]" in [c.name for c in suite_checks(options, qat=True)]
    source = quantizer_source(_Idle(), "idle")
    passed = run_check(SuiteCheck("toy", Subject("model", "mlp")), source, options)
    failed = run_check(SuiteCheck("toy", Subject("model", "attention")), source, options)
    assert (passed.outcome, failed.outcome) == ("passed", "failed")
    assert format_result(failed).splitlines()[:3] == [
        "quantizer idle on model 'attention'", "check: the toy rule holds",
        "  FAILED [toy] the toy rule does not hold on attention"]
    settings = {"models": options.models, "corpus": "findings"}
    lines = summary_lines([r.summary_record() for r in (passed, failed)], settings)
    assert lines[1].split() == ["model", "annotated", "annotate", "well_formed", "prepare", "numerics", "toy",
                                "SQNR", "dB"]
    assert lines[2].split() == ["mlp", "-", "-", "-", "-", "-", "passed", "-"]
    assert lines[3].split() == ["attention", "-", "-", "-", "-", "-", "failed", "-"]


def test_the_plugin_collects_and_summarises_a_registered_check(toy: CheckSpec, broken: pytest.Pytester) -> None:
    result = _run(broken, "--pt2e-quantizer=brokenq:Good", "--pt2e-models=mlp,attention", "--pt2e-examples=0",
                  "-p", "no:cacheprovider", "-k", "toy")
    result.assert_outcomes(passed=1, failed=1)
    assert _outcome_of(result, "pt2e[brokenq:Good]::toy[mlp]") == "PASSED"
    result.stdout.fnmatch_lines([_lit("quantizer brokenq:Good on model 'attention'"), "check: the toy rule holds",
                                 "*= pt2e quantizer suite =*", "brokenq:Good",
                                 "  model * annotated  annotate * well_formed * prepare * numerics * toy * SQNR dB"])
    rows = {line.split()[0]: line.split()[1:] for line in result.outlines
            if line.startswith(("  mlp ", "  attention "))}
    assert rows == {"mlp": ["-"] * 5 + ["passed", "-"], "attention": ["-"] * 5 + ["failed", "-"]}


def test_every_registered_check_has_a_runner_and_a_scope() -> None:
    for name, spec in SUITE_CHECKS.items():
        assert spec.name == name and spec.scope in SCOPES and spec.description
        assert callable(spec.run_function()), name
    with pytest.raises(KeyError, match="unknown suite check 'nope'; known: annotate, well_formed"):
        check_spec("nope")
    assert description("nope") == "nope"


def test_a_check_is_run_only_on_its_own_kind_of_subject() -> None:
    source = quantizer_source(_Idle(), "idle")
    with pytest.raises(ValueError, match="unknown suite check"):
        run_check(SuiteCheck("coverage", Subject("model", "mlp")), source, SuiteOptions())
    with pytest.raises(ValueError, match="unknown suite check"):
        run_check(SuiteCheck("nope", QUANTIZER), source, SuiteOptions())


def test_subjects_are_data_with_one_string_form() -> None:
    saved = Subject("saved", "/tmp/findings/a-b.json")
    assert (saved.key, saved.label, saved.text) == ("saved:/tmp/findings/a-b.json", "a-b", "saved graph a-b.json")
    assert (Subject("random", "2").chunk, Subject("random", "2").text) == (2, "random graphs (chunk 2)")
    assert (QUANTIZER.key, QUANTIZER.label, QUANTIZER.text) == ("quantizer", "", "models")
    assert SuiteCheck("corpus", saved, qat=True).name == "corpus[a-b][qat]"
    with pytest.raises(ValueError, match="unknown kind of subject 'graph'"):
        Subject("graph", "x")  # type: ignore[arg-type]


def test_the_registry_imports_no_torch() -> None:
    """The plugin's run summary reads it in every run, an xdist controller too."""
    code = "import sys, harness.suite.check_registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
