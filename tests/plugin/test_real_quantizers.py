"""Every real quantizer of ``harness.quantizers`` that installs here, through the plugin as a user runs it: the
``ci`` profile, 10 random examples (drawn from the whole op vocabulary, with motifs), PTQ and (where the factory takes
``is_qat``) QAT, each in its own pytest process. CoreML and OpenVINO (a slow annotate, a large install) and the
unpatched ExecuTorch XNNPACK (the same annotations as ``executorch_xnnpack``, 3-8 s per annotate) run only with
``PT2E_SLOW_QUANTIZERS=1``.

A sound quantizer must pass: a failure is a real upstream bug or the harness's fault. The bugs of each quantizer
are listed below (:data:`KNOWN`, each judged from the upstream source, with its link and repro), so the test still
checks everything else: every test of the plugin's run must pass, xfail (a known bug of torchao's steps) or skip,
or fail with one of its quantizer's listed bugs. Whether the random graphs meet a listed bug depends on what the
generator draws; a bug of a fixed model (``always``) must be met, so the test says when upstream fixes it (the
scripts of ``repros/`` say so for the others, ``tests/repros``). Also here: two real bugs the suite found in
ExecuTorch's Samsung ENN quantizer, each reported by the plugin on a saved graph.
"""

from __future__ import annotations

import importlib.util
import os
import re
import xml.etree.ElementTree as ET

import pytest

from harness import case as C
from harness import quantizers as q
from harness.case.files import save_case
from harness.quantizers import derive_opt_ins
from known_quantizer_bugs import KNOWN, RANDOM

pytest_plugins = ["pytester"]

RUN_SLOW = os.environ.get("PT2E_SLOW_QUANTIZERS") == "1"
ALL = [*q.TORCHAO_FACTORIES, *q.EXECUTORCH_FACTORIES]
# QAT: numerics on conv-bn models cost torchao's convert_pt2e ~100 pattern exports each; one conv-bn model (the
# fusion) and two without batch norm keep the QAT runs within the CI budget
QAT_MODELS = "conv_bn_relu,attention,mlp"


# QNN's default embedding table is uint8 per-tensor (is_embedding_per_channel=False): 11.8 dB on embedding_linear,
# a choice of precision, not a bug, below the default 15 dB floor
EXTRA_ARGS: dict[str, tuple[str, ...]] = {"executorch_qnn": ("--pt2e-sqnr-min=10",)}


def _params() -> list:
    out = []
    for name in ALL:
        slow_only = name in q.EXECUTORCH_SLOW
        for mode in ("ptq", "qat") if name in q.QAT_FACTORIES else ("ptq",):
            marks = [pytest.mark.slow]
            if slow_only:
                marks.append(pytest.mark.skipif(not RUN_SLOW, reason="slow or large-install quantizer: set "
                                                                     "PT2E_SLOW_QUANTIZERS=1"))
            out.append(pytest.param(name, mode, marks=marks, id=f"{name}-{mode}"))
    return out


def _available(name: str) -> None:
    if name.startswith("executorch_") and importlib.util.find_spec("executorch") is None:
        pytest.skip("ExecuTorch is not installed")
    try:
        getattr(q, name)()
    except q.QuantizerUnavailable as e:
        pytest.skip(str(e))


def _pytester(request: pytest.FixtureRequest) -> pytest.Pytester:
    """pytester, set up after the quantizer's modules are imported: its teardown unloads the modules imported after
    its setup, and torch's libraries cannot be imported twice in a process."""
    return request.getfixturevalue("pytester")


@pytest.mark.parametrize("name, mode", _params())
def test_a_real_quantizer_passes_the_plugin_with_the_ci_profile(request: pytest.FixtureRequest, name: str,
                                                                 mode: str) -> None:
    _available(name)
    pytester = _pytester(request)
    args = [f"--pt2e-quantizer=harness.quantizers:{name}", "--pt2e-profile=ci", "--pt2e-examples=10",
            "-p", "no:cacheprovider", "-p", "no:xdist", "-rA", "--junitxml=report.xml"]
    args += [f"--pt2e-allow-derive={d}" for d in derive_opt_ins(name)] + list(EXTRA_ARGS.get(name, ()))
    args += ["-k", "qat", f"--pt2e-models={QAT_MODELS}"] if mode == "qat" else ["-k", "not qat"]
    result = pytester.runpytest_subprocess(*args, timeout=1500)
    outcomes = result.parseoutcomes()
    text = result.stdout.str()
    failures = _failures(pytester.path / "report.xml")
    known = KNOWN.get((name, mode), ())
    unexplained = [t for t, report in failures.items() if not any(b.explains(t, report) for b in known)]
    assert result.ret in (0, 1) and not outcomes.get("error") and not unexplained, (unexplained, text[-12000:])
    unmet = [b.id for b in known if b.always and not any(b.explains(t, r) for t, r in failures.items())]
    assert not unmet, f"a known bug of a fixed model is gone (fixed upstream?): {unmet}\n{text[-4000:]}"
    assert outcomes.get("passed", 0) + len(failures) >= 10, text[-4000:]  # the checks ran (skips: a case format limit)
    random = [t for t in failures if re.match(RANDOM, t)]
    assert random or "random graphs: 10 examples" in text, text[-4000:]  # a known bug ends its chunk early


def _failures(junit: "os.PathLike[str]") -> dict[str, str]:
    """The failed tests of a run (``random_graphs[0]``, ``well_formed[mlp][qat]``...) and their reports."""
    return {case.get("name", ""): (failure.get("message", "") + "\n" + (failure.text or ""))
            for case in ET.parse(junit).iter("testcase") if (failure := case.find("failure")) is not None}


@pytest.mark.slow
def test_samsung_enn_crashes_on_hardtanh_with_default_bounds(request: pytest.FixtureRequest) -> None:
    """The plugin reports the bug as a failing ``corpus[...]`` test: the graph ``F.hardtanh_(conv(x))`` exports to."""
    _available("executorch_samsung_enn")
    pytester = _pytester(request)
    graph = C.Graph((
        C.Node("w", "get_attr", "w", tensor=C.TensorMeta((4, 3, 1, 1)), attr_kind="parameter"),
        C.Node("x", "placeholder", tensor=C.TensorMeta((1, 3, 8, 8))),
        C.Node("conv", "call_function", "aten.conv2d.default", (C.Ref("x"), C.Ref("w"))),
        C.Node("hardtanh_", "call_function", "aten.hardtanh_.default", (C.Ref("conv"),)),
        C.Node("output", "output", args=((C.Ref("hardtanh_"),),)),
    ))
    result = _run_enn_on_saved_graph(pytester, graph, "F.hardtanh_ after a conv")
    result.stdout.fnmatch_lines([
        "*FAILED [[]annotate[]] annotate() raised IndexError: tuple index out of range*",
        "*annotator.py:* in _is_hardtanh_for_relux: if not relu_node.args[[]1[]] == 0.0*"])


@pytest.mark.slow
def test_samsung_enn_makes_the_input_of_x_plus_x_share_with_itself(request: pytest.FixtureRequest) -> None:
    _available("executorch_samsung_enn")
    pytester = _pytester(request)
    graph = C.Graph((
        C.Node("x", "placeholder", tensor=C.TensorMeta((1, 4, 8, 8))),
        C.Node("add", "call_function", "aten.add.Tensor", (C.Ref("x"), C.Ref("x"))),
        C.Node("output", "output", args=((C.Ref("add"),),)),
    ))
    result = _run_enn_on_saved_graph(pytester, graph, "x + x")
    result.stdout.fnmatch_lines([
        "*FAILED [[]well_formed[]] CyclicSharingError: cyclic SharedQuantizationSpec: edge ('inputs_0' -> 'add') -> "
        "edge ('inputs_0' -> 'add')*"])  # the export names the input inputs_0


def _run_enn_on_saved_graph(pytester: pytest.Pytester, graph: C.Graph, title: str) -> pytest.RunResult:
    save_case(C.Case(graph, (), info=C.Info(title=title)), pytester.path / "pt2e-findings")
    result = pytester.runpytest_subprocess("--pt2e-quantizer=harness.quantizers:executorch_samsung_enn",
                                           "--pt2e-models=mlp", "--pt2e-examples=0", "-k", "corpus and not qat",
                                           "-p", "no:cacheprovider", "-p", "no:xdist", timeout=600)
    result.assert_outcomes(failed=1, deselected=11)
    return result
