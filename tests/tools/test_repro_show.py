"""harness.tools.repro (standalone reproduction scripts) and harness.tools.show (text and SVG renderings of a case)."""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import re
import runpy
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import case as C
from harness import strategies
from harness.case.files import iter_cases, save_case
from harness.check.run import UPSTREAM, check_case, load_function, reference_expectation
from harness.fx import derive
from harness.fx.nodes import PER_CHANNEL_QSCHEMES
from harness.tools.repro import ReproError, main_repro, repro_script
from harness.tools.show import group_colours, main_show, sharing, show_svg, show_text

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
SVG = "{http://www.w3.org/2000/svg}"

# Conformance cases whose scripts are run too (torchao agrees on them: exit 0).
CONFORMANCE_RUN = (
    "cat of two convs shares inputs and output",
    "derived conv bias, per-channel",
    "fixed qparams, softmax input and output (QAT)",
)

# Runs scripts in one interpreter (an import of torch + torchao costs seconds): each script as __main__, its
# exit status and output recorded; importing this project from a script is an error (they must be standalone).
_DRIVER = r'''
import contextlib, io, json, runpy, sys, traceback

class _NoProject:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("harness", "prepare_impl"):
            raise ImportError(f"a standalone script imported {name}")
        return None

sys.meta_path.insert(0, _NoProject())
results = {}
for path in sys.argv[1:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(path, run_name="__main__")
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:
            code = "crash: " + traceback.format_exc(limit=3)
    results[path] = {"code": code, "output": out.getvalue()}
print("RESULTS " + json.dumps(results))
'''


def _corpus() -> list[tuple[Path, C.Case]]:
    return [(p, c) for p, c in iter_cases(CORPUS)]


def _status_expected(case: C.Case) -> int:
    """1 when torchao diverges from the case's expected result today, else 0."""
    if case.info.kind == "upstream_bug":
        return 0 if case.info.upstream == "fixed" else 1
    return 0


def _run_batches(paths: list[Path], tmp_path: Path, batches: int = 2) -> dict[str, dict]:
    driver = tmp_path / "driver.py"
    driver.write_text(_DRIVER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TORCHAO_FORCE_SKIP_LOADING_SO_FILES"] = "1"
    groups = [paths[i::batches] for i in range(batches)]
    procs = [subprocess.Popen([sys.executable, str(driver), *map(str, g)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for g in groups if g]
    results: dict[str, dict] = {}
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        lines = [line for line in stdout.splitlines() if line.startswith("RESULTS ")]
        assert proc.returncode == 0 and lines, f"driver failed ({proc.returncode}): {stderr[-2000:]}"
        results.update(json.loads(lines[-1][len("RESULTS "):]))
    return results


@pytest.mark.slow
def test_repro_scripts_exit_with_the_status_the_case_documents(tmp_path):
    chosen = [(p, c) for p, c in _corpus()
              if c.info.kind == "upstream_bug" or c.info.title in CONFORMANCE_RUN]
    assert sum(c.info.kind == "conformance" for _, c in chosen) == len(CONFORMANCE_RUN)
    scripts = []
    for path, case in chosen:
        script = tmp_path / f"{path.stem}.py"
        script.write_text(repro_script(case), encoding="utf-8")
        scripts.append(script)
    results = _run_batches(scripts, tmp_path)
    for (path, case), script in zip(chosen, scripts):
        result = results[str(script)]
        want = _status_expected(case)
        assert result["code"] == want, (
            f"{path.name}: the script exited {result['code']}, expected {want}:\n{result['output'][-1500:]}")
        assert case.info.title in result["output"]
        assert ("DIVERGES" in result["output"]) == (want == 1), result["output"][-1500:]
        # what the divergence looks like: the field that differs, or the exception next to the expected error
        if "ao-qat-fq-ch-axis" in case.info.tags:
            assert "expected ch_axis=1; torchao has ch_axis=0" in result["output"], result["output"]
        if "ao-4483-dangling" in case.info.tags:
            assert "torchao prepare raised KeyError" in result["output"]
            assert "DanglingReferenceError" in result["output"]


@pytest.mark.parametrize("path,case", [pytest.param(p, c, id=str(p.relative_to(CORPUS))) for p, c in _corpus()])
def test_every_corpus_case_gives_a_standalone_script(path, case):
    script = repro_script(case)
    compile(script, f"{path.stem}.py", "exec")
    assert not re.search(r"^\s*(from|import)\s+(harness|prepare_impl)\b", script, re.M)
    for node in case.graph.nodes:
        if node.op != "output":
            assert f"n[{node.name!r}] = graph.create_node(" in script
    assert repro_script(case) == script  # deterministic


def test_script_is_the_filled_template_with_the_harness_own_derive_functions_and_qschemes():
    case = next(c for _, c in _corpus() if c.info.title == "derived conv bias, per-channel")
    script = repro_script(case)
    assert "# {{" not in script  # every marker of the template is filled
    assert script.startswith('"""Standalone reproduction') and "Template of the standalone" not in script
    for fn in (derive.bias_qparams_per_channel, derive._two_scales):  # from their one home, verbatim
        assert inspect.getsource(fn) in script
    assert "def bias_qparams_per_tensor" not in script  # only what the case's specs name
    namespace: dict = {}
    exec(re.search(r"^PER_CHANNEL = .*$", script, re.M).group(0), namespace)
    assert namespace["PER_CHANNEL"] == {str(q) for q in PER_CHANNEL_QSCHEMES}
    assert "harness.tools.repro_template" not in sys.modules  # read as text, never imported


def test_repro_names_the_node_it_cannot_write():
    graph = C.Graph((C.Node("x", "placeholder", tensor=C.TensorMeta((2,))),
                     C.Node("weird", "call_function", "aten.not_an_op.default", (C.Ref("x"),)),
                     C.Node("output", "output", args=((C.Ref("weird"),),))))
    with pytest.raises(ReproError, match="weird"):
        repro_script(C.Case(graph, ()))


def test_repro_refuses_a_derive_function_outside_the_allow_list():
    graph = C.Graph((C.Node("x", "placeholder", tensor=C.TensorMeta((2,))),
                     C.Node("relu", "call_function", "aten.relu.default", (C.Ref("x"),)),
                     C.Node("output", "output", args=((C.Ref("relu"),),))))
    spec = C.DerivedSpec((C.EdgeRef("x", "relu"),), "os.system", "int32", -(2**31), 2**31 - 1,
                         "per_tensor_symmetric")
    with pytest.raises(ReproError, match="derive function 'os.system'"):
        repro_script(C.Case(graph, (C.NodeAnnotation("relu", (), spec),)))


def test_main_repro_writes_the_script_and_reports_bad_files(tmp_path, capsys):
    path, case = _corpus()[0]
    out = tmp_path / "repro.py"
    assert main_repro([str(path), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == repro_script(case)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main_repro([str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err
    assert main_repro([str(tmp_path / "missing.json")]) == 2


# ---- show -------------------------------------------------------------------------------------------------------


def _small_cases() -> list:
    return [pytest.param(p, c, id=str(p.relative_to(CORPUS))) for p, c in _corpus() if len(c.graph.nodes) < 100]


@pytest.mark.parametrize("path,case", _small_cases())
def test_show_text_mentions_every_node_and_group(path, case):
    grouping = sharing(case)
    text = show_text(case, grouping)
    for node in case.graph.nodes:
        assert re.search(rf"\b{re.escape(node.name)}\b", text), f"node {node.name} missing"
    if case.expected is not None and case.expected.error:
        assert grouping.error and case.expected.error in text
        return
    unobserved = set(case.expected.canonical.get("unobserved", []))
    shown = {frozenset(k for k in keys if k not in unobserved) for keys in grouping.groups} - {frozenset()}
    assert shown == {frozenset(g["keys"]) for g in case.expected.canonical["groups"]}  # the reference's groups
    for i, keys in enumerate(grouping.groups):
        assert re.search(rf"^\s+G{i}\s", text, re.M), f"group G{i} missing"
        for key in keys:  # every annotated edge carries its group label on its annotation line
            if key.startswith("edge:"):
                arg = key[5:].split("->")[0]
                assert re.search(rf"^\s+G{i}\s+in\s+{re.escape(arg)}\s", text, re.M), f"{key} not labelled G{i}"
    assert text.count("(not observed)") == len(unobserved)


@pytest.mark.parametrize("path,case", _small_cases())
def test_show_svg_is_well_formed_with_one_colour_per_group(path, case):
    grouping = sharing(case)
    root = ET.fromstring(show_svg(case, grouping))
    assert root.tag == f"{SVG}svg"
    swatches = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "group-swatch"]
    assert len(swatches) == len(grouping.groups)
    assert len({r.get("fill") for r in swatches}) == len(grouping.groups)
    texts = {t.text for t in root.iter(f"{SVG}text")}
    for node in case.graph.nodes:
        if node.op != "output":
            assert node.name in texts, f"no box for node {node.name}"
    key_edges = [p for p in root.iter(f"{SVG}path") if p.get("class") == "key-edge"]
    edge_keys = {k for keys in grouping.groups for k in keys if k.startswith("edge:")}
    assert len(key_edges) == len(edge_keys)
    colour = {f"G{i}": c for i, c in enumerate(group_colours(len(grouping.groups)))}
    for p in key_edges:  # each annotated edge is drawn in its group's colour
        group = p.find(f"{SVG}title").text.split(": ")[-1].split(" ")[0]
        assert p.get("stroke") == colour[group]


def test_group_colours_are_distinct_even_for_many_groups():
    for n in (1, 7, 40, 500):
        colours = group_colours(n)
        assert len(colours) == n == len(set(colours))
        assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)


def test_show_escapes_text_that_is_not_xml_safe():
    graph = C.Graph((C.Node("x", "placeholder", tensor=C.TensorMeta((2,))),
                     C.Node("relu", "call_function", "aten.relu.default", (C.Ref("x"),)),
                     C.Node("output", "output", args=((C.Ref("relu"),),))))
    case = C.Case(graph, (), info=C.Info(title="a <b> & 'c'", link="https://x/?a=1&b=2"))
    root = ET.fromstring(show_svg(case))
    assert any(t.text == "a <b> & 'c'" for t in root.iter(f"{SVG}text"))


def test_main_show_prints_and_writes_svg(tmp_path, capsys):
    path = next(p for p, c in _corpus() if c.info.title == CONFORMANCE_RUN[0])
    out = tmp_path / "case.svg"
    assert main_show([str(path), "--svg", str(out)]) == 0
    printed = capsys.readouterr().out
    assert CONFORMANCE_RUN[0] in printed and "sharing groups (reference)" in printed
    ET.parse(out)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "pt2e-case/1"}', encoding="utf-8")
    assert main_show([str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err


def test_show_reports_a_case_the_reference_rejects(tmp_path):
    path = next(p for p, c in _corpus() if c.expected is not None and c.expected.error == "CyclicSharingError")
    case = next(c for p, c in _corpus() if p == path)
    text = show_text(case)
    assert "CyclicSharingError" in text and "sharing groups: none" in text
    root = ET.fromstring(show_svg(case))
    assert not [r for r in root.iter(f"{SVG}rect") if r.get("class") == "group-swatch"]
    assert any("CyclicSharingError" in (t.text or "") for t in root.iter(f"{SVG}text"))
    saved = save_case(case, tmp_path)  # round trip through a file still shows the same
    assert main_show([str(saved)]) == 0


# ---- generated cases: the script's verdict agrees with the differential check ---------------------------------


def _run_in_process(script: str, tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "generated_case.py"
    path.write_text(script, encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(str(path), run_name="__main__")
            code = 0
        except SystemExit as e:
            code = e.code
    return code, out.getvalue()


@pytest.mark.slow
def test_script_verdict_agrees_with_check_case_on_generated_cases(tmp_path):
    """On random valid and adversarial cases: a script that says DIVERGES is backed by a divergence of the
    differential check, and crashes, partitions and unobserved keys that the check reports make it say so."""
    torchao_prepare = load_function(UPSTREAM)
    strategy = st.one_of(strategies.cases(mode="valid", max_nodes=6),
                         strategies.cases(mode="adversarial", max_nodes=6))

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(strategy)
    def check(case):
        report = check_case(case, torchao_prepare, invariants=False)
        case = replace(case, expected=reference_expectation(report))
        code, output = _run_in_process(repro_script(case), tmp_path)
        kinds = {d.kind for d in report.divergences}
        if code == 1:
            assert kinds, f"the script says torchao diverges, the differential check does not:\n{output}"
        if kinds & {"crash_only_actual", "crash_only_expected", "partition", "unobserved"}:
            assert code == 1, f"the check reports {sorted(kinds)}, the script exits {code}:\n{output}"
        assert code in (0, 1), output

    check()
