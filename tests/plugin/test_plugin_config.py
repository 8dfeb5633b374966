"""The ``pt2e`` pytest plugin (``harness.plugin``), run with pytester: loading quantizers and configuration (the ini
file, bad option values), graphs saved by a run checked again, and the plugin inside a quantizer's own suite (one line
in a test module, under xdist, the README's report). The broken quantizers and the helpers are ``plugin_runs.py``'s."""

from __future__ import annotations

import importlib.util
import os

import pytest

from harness.plugin.hooks import HANG_MARKERS
from harness.suite.checks import hangs
from plugin_runs import SMALL, _findings, _outcome_of, _reports, _run, broken  # noqa: F401 - broken is a fixture

pytest_plugins = ["pytester"]


# ---- loading, configuration, corpus --------------------------------------------------------------


@pytest.mark.parametrize("spec, text", [
    ("no_such_module:Q", "*cannot load the quantizer: 'no_such_module:Q': cannot import 'no_such_module'*"),
    ("brokenq:not_a_quantizer", "*the factory returned int, not a Quantizer*"),
    ("brokenq", "*expected MODULE:NAME*"),
])
def test_a_quantizer_that_cannot_be_loaded_is_one_failing_test(broken: pytest.Pytester, spec: str, text: str) -> None:
    result = _run(broken, f"--pt2e-quantizer={spec}", *SMALL)
    result.assert_outcomes(failed=1)
    assert _outcome_of(result, f"pt2e[{spec}]::load") == "FAILED"
    result.stdout.fnmatch_lines([text])


@pytest.mark.skipif(importlib.util.find_spec("executorch") is not None, reason="ExecuTorch is installed")
def test_an_executorch_quantizer_without_executorch_is_skipped(broken: pytest.Pytester) -> None:
    result = _run(broken, "--pt2e-quantizer=harness.quantizers:executorch_xnnpack", *SMALL)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*quantizer unavailable*needs ExecuTorch*"])


def test_options_can_be_set_in_the_ini_file(broken: pytest.Pytester) -> None:
    broken.makeini("""
        [pytest]
        pt2e_quantizer = brokenq:WrongRange
        pt2e_models = mlp
        pt2e_examples = 0
        pt2e_corpus = my-findings
    """)
    result = _run(broken, "-p", "no:cacheprovider", "-k", "well_formed")
    assert _outcome_of(result, "pt2e[brokenq:WrongRange]::well_formed[mlp]") == "FAILED"
    assert _findings(broken, "my-findings") and not _findings(broken)
    override = _run(broken, "-p", "no:cacheprovider", "-k", "well_formed", "--pt2e-quantizer=brokenq:Good")
    assert _outcome_of(override, "pt2e[brokenq:Good]::well_formed[mlp]") == "PASSED"


def test_saved_graphs_are_checked_again_and_not_saved_twice(broken: pytest.Pytester) -> None:
    first = _run(broken, "--pt2e-quantizer=brokenq:WrongRange", *SMALL, "-k", "well_formed")
    assert _outcome_of(first, "pt2e[brokenq:WrongRange]::well_formed[mlp]") == "FAILED"
    (saved,) = list((broken.path / "pt2e-findings").glob("*.json"))
    again = _run(broken, "--pt2e-quantizer=brokenq:WrongRange", *SMALL, "-k", "corpus")
    assert _outcome_of(again, f"pt2e[brokenq:WrongRange]::corpus[{saved.stem}]") == "FAILED"
    again.stdout.fnmatch_lines([f"quantizer brokenq:WrongRange on saved graph {saved.name}",
                                "*quant_max 300 is outside the range of torch.int8*"])
    assert list((broken.path / "pt2e-findings").glob("*.json")) == [saved]
    fixed = _run(broken, "--pt2e-quantizer=brokenq:Good", *SMALL, "-k", "corpus")
    assert _outcome_of(fixed, f"pt2e[brokenq:Good]::corpus[{saved.stem}]") == "PASSED"


def test_bad_option_values_are_usage_errors(broken: pytest.Pytester) -> None:
    result = _run(broken, "--pt2e-quantizer=brokenq:Good", "--pt2e-models=mlp,resnet152")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--pt2e-models: unknown model(s) resnet152; known: conv_bn_relu*"])
    result = _run(broken, "--pt2e-quantizer=brokenq:Good", "--pt2e-profile=weekly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


# ---- inside a quantizer's own suite --------------------------------------------------------------


def test_one_line_in_a_test_module_with_the_fixture_from_conftest(broken: pytest.Pytester) -> None:
    broken.makeconftest("""
        import pytest
        import brokenq

        @pytest.fixture
        def pt2e_quantizer():
            return brokenq.Dangling()
    """)
    broken.makepyfile(test_my_quantizer="from harness.plugin import quantizer_suite_tests\n"
                                        "test_pt2e = quantizer_suite_tests()\n")
    result = _run(broken, *SMALL, "-m", "pt2e_quantizer_suite")
    assert _outcome_of(result, "test_my_quantizer.py::test_pt2e[well_formed[mlp]]") == "FAILED"
    assert _outcome_of(result, "test_my_quantizer.py::test_pt2e[annotate[mlp]]") == "PASSED"
    result.stdout.fnmatch_lines(["quantizer brokenq.Dangling on model 'mlp'", "*DanglingReferenceError*"])


def test_one_line_with_a_quantizer_class(broken: pytest.Pytester) -> None:
    broken.makepyfile(test_good="import brokenq\nfrom harness.plugin import quantizer_suite_tests\n"
                                "test_good = quantizer_suite_tests(brokenq.Good)\n")
    result = _run(broken, *SMALL)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*test_good.py::test_good?numerics?mlp?? PASSED*"])


@pytest.mark.slow
def test_the_suite_runs_under_xdist(broken: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xdist")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(broken.path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")
    result = broken.runpytest_subprocess("-n", "2", "--pt2e-quantizer=brokenq:Good",
                                         "--pt2e-quantizer=brokenq:Cyclic", *SMALL, "-k", "not numerics",
                                         timeout=300)
    result.assert_outcomes(passed=6, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*_ pt2e?brokenq:Cyclic?::well_formed?mlp? _*", "*CyclicSharingError*",
                                 "*pt2e quantizer suite*", "brokenq:Good", "*mlp * 3  passed*", "brokenq:Cyclic",
                                 "*mlp * 1  passed * failed * skipped*"])
    assert len(_findings(broken)) == 1


@pytest.mark.slow
def test_under_xdist_a_hang_is_waited_for_once_per_worker_at_most(broken: pytest.Pytester,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xdist")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(broken.path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")
    stale = broken.path / "pt2e-findings" / HANG_MARKERS
    hangs.record_hang("brokenq:Good", "annotate() on model 'mlp' did not return within 60 s", str(stale))
    hangs.clear_caches()
    models = "mlp,attention,residual,conv_bn_relu,depthwise_separable,embedding_linear"
    result = broken.runpytest_subprocess("-n", "2", "--pt2e-quantizer=brokenq:Hanging",
                                         "--pt2e-quantizer=brokenq:Good", f"--pt2e-models={models}",
                                         "--pt2e-examples=0", "--pt2e-timeout=10", "-p", "no:cacheprovider",
                                         "-k", "annotate", timeout=300)
    result.assert_outcomes(passed=6, failed=6)  # Good passes: the controller cleared the stale marker
    text = _reports(result)
    timeouts = text.count("did not return within 10 s (--pt2e-timeout)")
    assert 1 <= timeouts <= 2, text  # each worker waits once at most, the other learns of it from the marker
    assert text.count("the quantizer hung earlier (") == 6 - timeouts


def test_the_readme_report_shape(broken: pytest.Pytester) -> None:
    """The summary table has one row per model with the annotated node count, each check and the SQNR."""
    result = _run(broken, "--pt2e-quantizer=brokenq:Good", "--pt2e-models=mlp,attention", "--pt2e-examples=0",
                  "-p", "no:cacheprovider", "-k", "numerics")
    result.stdout.fnmatch_lines([
        "*= pt2e quantizer suite =*",
        "brokenq:Good",
        "  model * annotated  annotate * well_formed * prepare * numerics * SQNR dB",
        "  mlp * 3  -  * -  * -  * passed *",
        "  attention * 4  -  * -  * -  * passed *",
    ])
