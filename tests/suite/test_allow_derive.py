"""The prepare check of the ExecuTorch Arm (TOSA, Ethos-U, VGF), Cortex-M and Cadence quantizers, whose bias
derive functions are their own: skipped, naming the ``--pt2e-allow-derive`` value, without the opt-in; the
differential check with it (each factory's ``allow_derive`` in :mod:`harness.quantizers` lists the names;
``--pt2e-allow-derive`` in the plugin). Tests of a quantizer skip, saying what is missing, when ExecuTorch or its
backend's packages are not installed."""

from __future__ import annotations

import _pytest.pytester
import pytest

from harness import case as C
from harness.case.files import load_case, save_case
from harness.fx import derive_registry
from harness.quantizers import CADENCE_BIAS, DERIVE_OPT_INS, derive_opt_ins
from harness.suite.checks.prepare_agreement import check_prepare
from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.dispatch import run_check, suite_checks
from harness.suite.options import SuiteOptions
from harness.suite.reporting.failure import format_result
from harness.suite.subjects import models
from quantizer_sources import factory_source

pytest_plugins = ["pytester"]

PREPARE = "torchao.quantization.pt2e.prepare:prepare"
QUANTIZERS = sorted(DERIVE_OPT_INS)


_source = factory_source


def _annotated_mlp(name: str):
    source = _source(name)
    ann = run_quantizer(models.export_model("mlp", source.export_strict), source, 120.0, "model 'mlp'")
    assert not ann.failed and ann.count > 0, ann.problems
    return ann.gm


def test_the_list_names_each_factory_and_nothing_else():
    assert derive_opt_ins("harness.quantizers:executorch_cadence") == (CADENCE_BIAS,)
    assert derive_opt_ins("executorch_arm_tosa") == derive_opt_ins("executorch_arm_vgf")
    assert derive_opt_ins("xnnpack") == ()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if "executorch" in n else n
                                  for n in QUANTIZERS])  # ExecuTorch's quantizers: seconds each, and its import
def test_the_prepare_check_runs_with_the_opt_in_and_says_how_without(name: str, tmp_path) -> None:
    gm = _annotated_mlp(name)
    needed = DERIVE_OPT_INS[name]
    assert derive_registry.unnamed_derive_functions(gm) == needed  # the list is exactly what the quantizer uses
    problems, case = check_prepare(gm, PREPARE, 120.0)
    assert case is None and [p.level for p in problems] == ["skip"]
    assert f"--pt2e-allow-derive={needed[0]}" in problems[0].message
    with derive_registry.allowed(*needed):
        problems, case = check_prepare(gm, PREPARE, 120.0)
        assert problems == []  # the reference and torchao's prepare agree, and every invariant holds
        derived = [s for a in case.annotations for _, s in a.inputs if isinstance(s, C.DerivedSpec)]
        assert len(derived) == 3 and {s.derive_fn for s in derived} == set(needed)  # the three linear biases
        assert load_case(save_case(case, tmp_path)) == case


@pytest.mark.slow  # six models per quantizer: 3-10 s each
@pytest.mark.parametrize("name", QUANTIZERS)
def test_with_the_opt_in_the_prepare_check_passes_on_every_model(name: str) -> None:
    source = _source(name)
    options = SuiteOptions(profile="ci", examples=0)
    with derive_registry.allowed(*DERIVE_OPT_INS[name]):
        results = [run_check(c, source, options) for c in suite_checks(options) if c.check == "prepare"]
    assert len(results) == len(models.model_names())
    assert all(r.outcome == "passed" for r in results), "\n\n".join(format_result(r) for r in results)


# ---- the plugin option ---------------------------------------------------------------------------------------


class _KeepLibraries(_pytest.pytester.SysModulesSnapshot):
    """An in-process pytester run unloads every module it imported, and torch cannot be imported twice: keep all
    but the run's own test files (as tests/plugin_runs.py does)."""

    def __init__(self, preserve=None) -> None:
        super().__init__(preserve=lambda name: not name.startswith("test_"))


@pytest.fixture
def runner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setattr(_pytest.pytester, "SysModulesSnapshot", _KeepLibraries)
    monkeypatch.setattr(pytester, "_sys_modules_snapshot", _KeepLibraries())
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*args, "-v", "-rA", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")


def test_a_name_that_does_not_import_is_a_usage_error(runner: pytest.Pytester) -> None:
    runner.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = _run(runner, "--pt2e-allow-derive=harness.fx.derive:no_such_function")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--pt2e-allow-derive / pt2e_allow_derive: harness.fx.derive:no_such_function: "
                                 "harness.fx.derive has no 'no_such_function'*"])
    assert derive_registry.opted_in() == ()


@pytest.mark.slow  # two runs of the suite on Cadence: about 10 s
def test_the_plugin_option_turns_the_skip_into_the_check(runner: pytest.Pytester) -> None:
    pytest.importorskip("executorch")
    args = ("--pt2e-quantizer=harness.quantizers:executorch_cadence", "--pt2e-models=mlp", "--pt2e-examples=0",
            "-k", "prepare")
    without = _run(runner, *args)
    item = "pt2e[[]harness.quantizers:executorch_cadence[]]::prepare[[]mlp[]]"
    without.stdout.fnmatch_lines([f"{item} SKIPPED*", f"SKIPPED*: run with --pt2e-allow-derive={CADENCE_BIAS} *"])
    runner.makeini(f"[pytest]\npt2e_allow_derive =\n    {CADENCE_BIAS}\n")
    with_ini = _run(runner, *args)
    with_ini.stdout.fnmatch_lines([f"{item} PASSED*"])
    assert derive_registry.opted_in() == ()  # undone at the end of the session
