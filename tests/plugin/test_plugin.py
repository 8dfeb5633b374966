"""The ``pt2e`` pytest plugin (``harness.plugin``), run with pytester on good and deliberately broken quantizers: the
command line, and each broken quantizer failing the right check (loading, configuration and use inside a quantizer's
own suite are tests/plugin/test_plugin_config.py).

The broken quantizers are small classes (``BROKEN`` in ``plugin_runs.py``, written into each test's directory as
``brokenq.py``); each breaks one rule on the ``mlp`` model. Runs are in-process (imports are shared, so a run costs only
its checks) with a small budget: one model, few or no random graphs.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from harness import case as C
from harness.case.files import save_case
from harness.plugin.hooks import HANG_MARKERS, PROFILE_NAMES
from harness.suite.checks import hangs
from harness.suite.options import BUDGET_PROFILES
from plugin_runs import SMALL, _findings, _lit, _outcome_of, _reports, _run, broken  # noqa: F401 - broken is a fixture

pytest_plugins = ["pytester"]


# ---- the command line ----------------------------------------------------------------------------


def test_help_lists_every_option_in_its_own_group(broken: pytest.Pytester) -> None:
    result = broken.runpytest_inprocess("--help")
    text = result.stdout.str()
    group = text[text.index("PT2E quantizer checks"):]
    for option in ("--pt2e-quantizer=MODULE:FACTORY", "--pt2e-prepare=MODULE:FUNCTION", "--pt2e-examples=N",
                   "--pt2e-profile=dev|ci|nightly", "--pt2e-sqnr-min=DB", "--pt2e-timeout=SECONDS",
                   "--pt2e-corpus=DIR", "--pt2e-models=NAME,..."):
        assert option in group, option
    for ini in ("pt2e_quantizer", "pt2e_prepare", "pt2e_examples", "pt2e_profile", "pt2e_sqnr_min", "pt2e_timeout",
                "pt2e_corpus", "pt2e_models"):
        assert f"{ini} (" in text, ini


def test_importing_the_plugin_does_not_import_torch() -> None:
    code = ("import sys, harness.plugin; "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('harness.suite')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_profile_option_offers_exactly_the_suites_profiles() -> None:
    assert PROFILE_NAMES == tuple(BUDGET_PROFILES)


def test_a_correct_quantizer_passes_in_an_empty_directory(broken: pytest.Pytester) -> None:
    result = _run(broken, "--pt2e-quantizer=brokenq:Good", *SMALL)
    result.assert_outcomes(passed=5)
    for check in ("annotate[mlp]", "well_formed[mlp]", "prepare[mlp]", "numerics[mlp]", "coverage"):
        assert _outcome_of(result, f"pt2e[brokenq:Good]::{check}") == "PASSED"
    result.stdout.fnmatch_lines(["*pt2e quantizer suite*", "brokenq:Good",
                                 "*mlp * 3  passed*passed*passed*passed*"])
    assert _findings(broken) == []


def test_xnnpack_passes_on_models_and_random_graphs(broken: pytest.Pytester) -> None:
    result = _run(broken, "--pt2e-quantizer=harness.quantizers:xnnpack", "--pt2e-models=conv_bn_relu",
                  "--pt2e-examples=2", "--pt2e-seed=1", "-p", "no:cacheprovider", "-k", "not qat")  # QAT: test_plugin_qat
    result.assert_outcomes(passed=6, deselected=6)
    result.stdout.fnmatch_lines(["*conv_bn_relu * passed*passed*passed*passed *",
                                 "*random graphs: 2 examples*0 failed*"])
    sqnr = float(next(line for line in result.outlines if line.strip().startswith("conv_bn_relu")).split()[-1])
    assert sqnr > 25  # measured 34.8 dB


# ---- broken quantizers ---------------------------------------------------------------------------

BROKEN_CASES = [
    # (class, the check that fails, text of its report, other checks and their outcomes)
    ("Cyclic", "well_formed[mlp]",
     ["*CyclicSharingError: cyclic SharedQuantizationSpec: edge ('x' -> 'linear') -> output of 'linear'*",
      "annotations at fault: x, linear", "  ! linear = linear(x, fc1_weight, fc1_bias)*",
      "        in  x: shared(linear)", "        out shared(x->linear)"],
     {"prepare[mlp]": "SKIPPED", "numerics[mlp]": "SKIPPED"}),
    ("Dangling", "well_formed[mlp]",
     ["*DanglingReferenceError: SharedQuantizationSpec of edge ('x' -> 'linear') refers to output of "
      "'fc1_weight', which carries no quantization spec*"], {"prepare[mlp]": "SKIPPED"}),
    ("NotAnInput", "well_formed[mlp]",
     ["*NotAnInputError: input_qspec_map of node 'linear_1' annotates 'x', which is not an input of 'linear_1'*"],
     {"prepare[mlp]": "SKIPPED"}),
    ("WrongRange", "well_formed[mlp]",
     ["*annotation of 'linear': input 'x': quant_max 300 is outside the range of torch.int8 [[]-128, 127[]]*",
      "        in  x: int8[-128,300] per_tensor_affine MinMaxObserver"],
     {"numerics[mlp]": "SKIPPED"}),
    ("BadAxis", "well_formed[mlp]",
     ["*input 'fc1_weight': ch_axis 3 is out of range for 'fc1_weight', a tensor of rank 2*"], {}),
    ("Garbage", "well_formed[mlp]", ["*annotation of 'linear' is a dict, not a QuantizationAnnotation*"], {}),
    ("Raising", "annotate[mlp]",
     ["*FAILED [[]annotate[]] annotate() raised RuntimeError: no pattern for this graph",
      "*brokenq.py:* in annotate: raise RuntimeError(\"no pattern for this graph\")"],
     {"well_formed[mlp]": "SKIPPED", "numerics[mlp]": "SKIPPED"}),
    ("Mutating", "annotate[mlp]",
     ["*annotate() changed the graph (only annotations may change):",
      "*node 'relu_default' (call_function aten.relu.default) was added",
      "*node 'relu' changed: call_function aten.relu.default(linear) became *(relu_default)"], {}),
    ("RemovesUsedRelu", "annotate[mlp]",
     ["*annotate() changed the graph (only annotations may change):",
      "*node 'relu' was removed, though 'linear_1' used it",
      "*node 'linear_1' changed: call_function aten.linear.default(relu, fc2_weight, fc2_bias) became "
      "call_function aten.linear.default(linear, fc2_weight, fc2_bias)"], {}),
    ("Coarse", "numerics[mlp]",
     ["*SQNR * dB is below the minimum 15 dB (--pt2e-sqnr-min)*",
      "        in  x: fixed(scale=1.0, zero_point=0) int8[-128,127] per_tensor_affine"],
     {"well_formed[mlp]": "PASSED", "prepare[mlp]": "PASSED"}),
]


@pytest.mark.parametrize("name, failing, report, others", BROKEN_CASES, ids=[c[0] for c in BROKEN_CASES])
def test_a_broken_quantizer_fails_the_right_check_and_says_why(broken: pytest.Pytester, name: str, failing: str,
                                                               report: list, others: dict) -> None:
    result = _run(broken, f"--pt2e-quantizer=brokenq:{name}", *SMALL)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    test_id = f"pt2e[brokenq:{name}]::{failing}"
    assert _outcome_of(result, test_id) == "FAILED"
    for other, outcome in others.items():
        assert _outcome_of(result, f"pt2e[brokenq:{name}]::{other}") == outcome, other
    result.stdout.fnmatch_lines([f"*_ {_lit(test_id)} _*", f"quantizer brokenq:{name} on model 'mlp'", *report])
    findings = _findings(broken)
    check = failing.split("[")[0]
    assert any(check in f["info"]["tags"] and f"brokenq:{name}" in f["info"]["notes"] for f in findings), findings
    result.stdout.fnmatch_lines([f"case written to *pt2e-findings*{name.lower()}-{check.replace('_', '-')}-*.json"])


DEAD_NODES = C.Graph((
    C.Node("w", "get_attr", "w", tensor=C.TensorMeta((4, 4)), attr_kind="parameter"),
    C.Node("count", "get_attr", "count", tensor=C.TensorMeta((2, 4)), attr_kind="buffer"),
    C.Node("x", "placeholder", tensor=C.TensorMeta((2, 4))),
    C.Node("linear", "call_function", "aten.linear.default", (C.Ref("x"), C.Ref("w"))),
    C.Node("relu", "call_function", "aten.relu.default", (C.Ref("linear"),)),  # nothing uses it
    C.Node("add_", "call_function", "aten.add_.Tensor", (C.Ref("count"), C.Ref("x"))),  # a write nothing reads
    C.Node("output", "output", args=((C.Ref("linear"),),)),
))


def test_dead_code_elimination_is_a_note_and_removing_a_side_effect_fails(broken: pytest.Pytester) -> None:
    saved = save_case(C.Case(DEAD_NODES, ()), str(broken.path / "pt2e-findings"))
    test_id = f"corpus[{saved.stem}]"
    result = _run(broken, "--pt2e-quantizer=brokenq:DeadCodeEliminating", "--pt2e-quantizer=brokenq:RemovesBufferWrite",
                  *SMALL, "-k", "corpus")
    assert _outcome_of(result, f"pt2e[brokenq:DeadCodeEliminating]::{test_id}") == "PASSED"
    assert _outcome_of(result, f"pt2e[brokenq:RemovesBufferWrite]::{test_id}") == "FAILED"
    result.stdout.fnmatch_lines(["*node 'add_' was removed; it has side effects",
                                 "*pt2e quantizer suite*",
                                 "brokenq:DeadCodeEliminating",
                                 "  note: annotate() removed nodes nothing used (dead-code elimination of "
                                 f"side-effect-free nodes: allowed, no result changes) [[]{_lit(test_id)}[]]",
                                 "brokenq:RemovesBufferWrite"])


def test_a_hanging_quantizer_times_out_and_the_run_goes_on(broken: pytest.Pytester) -> None:
    result = _run(broken, "--pt2e-quantizer=brokenq:Hanging", "--pt2e-quantizer=brokenq:Good", "--pt2e-timeout=1",
                  *SMALL)
    assert _outcome_of(result, "pt2e[brokenq:Hanging]::annotate[mlp]") == "FAILED"
    result.stdout.fnmatch_lines(["*annotate() did not return within 1 s (--pt2e-timeout): the quantizer hangs in "
                                 "annotate()*"])
    for check in ("well_formed[mlp]", "prepare[mlp]", "numerics[mlp]", "coverage"):
        assert _outcome_of(result, f"pt2e[brokenq:Hanging]::{check}") == "SKIPPED"
    assert _outcome_of(result, "pt2e[brokenq:Good]::numerics[mlp]") == "PASSED"


# The time limit is well above what a sound annotate takes on a busy 2-core machine (a sound quantizer that is merely
# slow must not be counted as hanging), and small enough to keep the runs short.
HANG_RUN = ("--pt2e-models=mlp,attention", "--pt2e-examples=20", "--pt2e-seed=3", "--pt2e-timeout=6",
            "-p", "no:cacheprovider", "-k", "not numerics")


@pytest.mark.slow
def test_a_quantizer_that_hangs_costs_one_timeout_per_run(broken: pytest.Pytester) -> None:
    started = time.monotonic()
    good = _run(broken, "--pt2e-quantizer=brokenq:Good", *HANG_RUN)
    normal = time.monotonic() - started
    good.assert_outcomes(passed=9)
    started = time.monotonic()
    result = _run(broken, "--pt2e-quantizer=brokenq:HangsOnMul", *HANG_RUN)
    took = time.monotonic() - started
    assert took < normal + 6 + 4, (took, normal)  # the timeout once, plus slack for a busy machine
    assert _outcome_of(result, "pt2e[brokenq:HangsOnMul]::annotate[mlp]") == "PASSED"
    assert _outcome_of(result, "pt2e[brokenq:HangsOnMul]::annotate[attention]") == "FAILED"
    for chunk in ("random_graphs[0]", "random_graphs[1]"):
        assert _outcome_of(result, f"pt2e[brokenq:HangsOnMul]::{chunk}") == "FAILED"
    assert _reports(result).count("did not return within 6 s (--pt2e-timeout)") == 1
    assert "random graphs: 0 examples (0 annotated) in 2 chunk(s), 2 failed" in result.stdout.str()  # none ran
    result.stdout.fnmatch_lines(["*annotate() did not return within 6 s (--pt2e-timeout): the quantizer hangs in "
                                 "annotate()*",
                                 "*_ pt2e?brokenq:HangsOnMul?::random_graphs?0? _*",
                                 "*FAILED [[]annotate[]] the quantizer hung earlier (annotate() on model 'attention' "
                                 "did not return within 6 s)"])


def test_a_hang_marker_of_an_earlier_run_is_cleared_at_session_start(broken: pytest.Pytester) -> None:
    markers = broken.path / "pt2e-findings" / HANG_MARKERS
    hangs.record_hang("brokenq:Good", "annotate() on model 'mlp' did not return within 60 s", str(markers))
    hangs.clear_caches()
    result = _run(broken, "--pt2e-quantizer=brokenq:Good", *SMALL, "-k", "annotate")
    assert _outcome_of(result, "pt2e[brokenq:Good]::annotate[mlp]") == "PASSED"
    assert not markers.exists()


def test_random_graphs_shrink_a_crash_to_a_small_graph(broken: pytest.Pytester) -> None:
    result = _run(broken, "--pt2e-quantizer=brokenq:Raising", "--pt2e-models=mlp", "--pt2e-examples=3",
                  "--pt2e-seed=5", "-k", "random_graphs", "-p", "no:cacheprovider")
    assert _outcome_of(result, "pt2e[brokenq:Raising]::random_graphs[0]") == "FAILED"
    result.stdout.fnmatch_lines(["quantizer brokenq:Raising on random graphs (chunk 0)",
                                 "*annotate() raised RuntimeError: no pattern for this graph",
                                 "graph (3 nodes;*", "hypothesis seed: 5000"])  # the smallest graph: x -> op -> out


def test_a_quantizer_that_annotates_nothing_warns_per_model_and_fails_coverage(broken: pytest.Pytester) -> None:
    result = _run(broken, "--pt2e-quantizer=brokenq:Nothing", "--pt2e-models=mlp,residual", "--pt2e-examples=0",
                  "-p", "no:cacheprovider", "-k", "annotate or coverage")
    assert _outcome_of(result, "pt2e[brokenq:Nothing]::annotate[mlp]") == "PASSED"
    assert _outcome_of(result, "pt2e[brokenq:Nothing]::coverage") == "FAILED"
    result.stdout.fnmatch_lines([
        "*the quantizer annotated nothing on any of the 2 models it could support (mlp, residual)*",
        "*QuantizerWarning: brokenq:Nothing annotate[[]mlp[]]: annotated nothing on model 'mlp' (ops: hardtanh, "
        "linear, relu)*",
        "*QuantizerWarning: brokenq:Nothing annotate[[]residual[]]: annotated nothing on model 'residual'*"])
    strict = _run(broken, "--pt2e-quantizer=brokenq:Nothing", *SMALL, "-k", "annotate",
                  "-W", "error::harness.plugin.QuantizerWarning")
    assert _outcome_of(strict, "pt2e[brokenq:Nothing]::annotate[mlp]") == "FAILED"


def test_a_model_the_quantizer_does_not_claim_is_not_a_warning(broken: pytest.Pytester) -> None:
    # EmbeddingQuantizer says (get_supported_operators) it handles embeddings only: the mlp is not its business.
    result = _run(broken, "--pt2e-quantizer=harness.quantizers:embedding", "--pt2e-models=mlp,embedding_linear",
                  "--pt2e-examples=0", "-p", "no:cacheprovider", "-k", "annotate or coverage")
    result.assert_outcomes(passed=3)
    assert "QuantizerWarning" not in result.stdout.str()


def test_a_known_upstream_bug_is_an_expected_failure(broken: pytest.Pytester) -> None:
    result = _run(broken, "--pt2e-quantizer=brokenq:LaterAnchor", *SMALL)
    assert _outcome_of(result, "pt2e[brokenq:LaterAnchor]::prepare[mlp]") == "XFAIL"
    result.stdout.fnmatch_lines(["XFAIL *prepare[[]mlp[]] - known upstream bug ao-4421*"])
    assert _outcome_of(result, "pt2e[brokenq:LaterAnchor]::numerics[mlp]") == "PASSED"  # via the reference prepare
    assert result.ret == pytest.ExitCode.OK
    # the reference prepare is correct on these annotations: with it as the prepare under test, nothing is known
    ref = _run(broken, "--pt2e-quantizer=brokenq:LaterAnchor", "--pt2e-prepare=prepare_impl:prepare", *SMALL)
    assert _outcome_of(ref, "pt2e[brokenq:LaterAnchor]::prepare[mlp]") == "PASSED"
