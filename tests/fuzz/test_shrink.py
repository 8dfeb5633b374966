"""``python -m harness shrink``: a saved finding shrinks further, keeps its failure's signature, is written beside the
old file (which stays); the reducer's edits rewire users of a deleted node and drop what referred to it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.case import Ctor, EdgeRef, Graph, Node, NodeAnnotation, NodeRef, QSpec, Ref, SharedSpec, TensorMeta
from harness.case.files import load_case, save_case
from harness.check.run import check_case, load_function
from harness.fuzz.cli_shrink import main_shrink
from harness.fuzz.reduce import shrink_case, size, smaller_cases
from harness.fuzz.target import finding_case

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
MUTANT = "harness.mutants:no_output_sharing"
OBS = Ctor("torchao.quantization.pt2e.observer.MinMaxObserver")
U8 = QSpec("uint8", OBS, 0, 255, "per_tensor_affine")


def _padded_finding():
    """The maxpool conformance case (the mutant fails it) with unrelated nodes and annotations added."""
    case = load_case(next(CORPUS.rglob("maxpool-shares-with-its-producer-s-output-*.json")))
    nodes = list(case.graph.nodes)
    output = nodes.pop()
    pad = [
        Node("pad_in", "placeholder", tensor=TensorMeta((2, 4))),
        Node("pad_relu", "call_function", "aten.relu.default", (Ref("pad_in"),)),
        Node("pad_relu2", "call_function", "aten.relu.default", (Ref("pad_relu"),)),
        Node("tail", "call_function", "aten.relu.default", (Ref("max_pool2d"),)),
    ]
    output = replace(output, args=((Ref("tail"), Ref("pad_relu2")),))
    annotations = case.annotations + (
        NodeAnnotation("pad_relu", (("pad_in", U8),), U8),
        NodeAnnotation("pad_relu2", (("pad_relu", SharedSpec(NodeRef("pad_relu"))),),
                       SharedSpec(EdgeRef("pad_in", "pad_relu"))),
    )
    return replace(case, graph=Graph(tuple(nodes + pad + [output])), annotations=annotations)


def test_the_reducer_rewires_the_users_of_a_deleted_node_and_drops_specs_naming_it():
    case = _padded_finding()
    edits = list(smaller_cases(case))
    assert all(size(e) < size(case) or e.annotations != case.annotations or e.graph != case.graph for e in edits)
    gone = [e for e in edits if "pad_relu" not in {n.name for n in e.graph.nodes}]
    rewired = next(e for e in gone if "pad_relu2" in {n.name for n in e.graph.nodes})
    assert rewired.graph.node("pad_relu2").args == (Ref("pad_in"),)  # its input is now pad_relu's input
    ann = next(a for a in rewired.annotations if a.node == "pad_relu2")
    # the key and the shared output follow the rewiring; a spec naming an edge into the deleted node is gone
    assert ann.inputs == (("pad_in", SharedSpec(NodeRef("pad_in"))),) and ann.output is None
    assert all(a.node != "pad_relu" for a in rewired.annotations)
    assert any(e.graph.node("output").args == ((Ref("tail"),),) for e in edits)  # an output value dropped


def test_shrink_case_keeps_the_signature_and_reaches_a_fixpoint():
    mutant = load_function(MUTANT)
    case = _padded_finding()
    signature = check_case(case, mutant).signature
    small, last, checks = shrink_case(case, lambda c: check_case(c, mutant), signature)
    assert last is not None and last.signature == signature
    assert size(small)[0] < size(case)[0] and checks > 0
    assert check_case(small, mutant).signature == signature
    # a fixpoint: no single edit of the result fails the same way
    assert shrink_case(small, lambda c: check_case(c, mutant), signature)[1] is None


def test_the_shrink_command_writes_a_smaller_case_beside_the_old_one(tmp_path, capsys):
    mutant = load_function(MUTANT)
    padded = _padded_finding()
    report = check_case(padded, mutant)
    assert report.failed
    old = save_case(finding_case(report), tmp_path)
    assert main_shrink([str(old), "--candidate", MUTANT]) == 0
    out = capsys.readouterr().out
    files = sorted(tmp_path.glob("*.json"))
    assert old in files and len(files) == 2  # the old file is kept
    new = next(p for p in files if p != old)
    shrunk = load_case(new)
    assert size(shrunk)[0] < size(padded)[0]
    assert check_case(shrunk, mutant).signature == report.signature
    assert shrunk.info.kind == "finding" and shrunk.expected is not None
    assert f"old: {size(padded)[0]} nodes, {size(padded)[1]} annotations" in out
    assert f"new: {size(shrunk)[0]} nodes, {size(shrunk)[1]} annotations  {new}" in out


def test_a_case_that_does_not_fail_is_not_shrunk(tmp_path, capsys):
    path = save_case(_padded_finding(), tmp_path)  # torchao's prepare handles it correctly
    assert main_shrink([str(path)]) == 1
    assert "does not fail" in capsys.readouterr().err
    assert sorted(tmp_path.glob("*.json")) == [path]


def test_usage_errors(tmp_path, capsys):
    assert main_shrink([str(tmp_path / "missing.json")]) == 2
    path = save_case(_padded_finding(), tmp_path)
    assert main_shrink([str(path), "--candidate", "harness.mutants:no_such_mutant"]) == 2
    assert "no_such_mutant" in capsys.readouterr().err


@pytest.mark.slow
def test_python_m_harness_shrink_stops_at_its_time_limit(tmp_path):
    mutant = load_function(MUTANT)
    old = save_case(finding_case(check_case(_padded_finding(), mutant)), tmp_path)
    proc = subprocess.run([sys.executable, "-m", "harness", "shrink", str(old), "--candidate", MUTANT, "--seconds",
                           "0.01"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"old: {size(_padded_finding())[0]} nodes" in proc.stdout and "out of time" in proc.stdout
    assert sorted(tmp_path.glob("*.json")) == [old]  # nothing smaller was kept in time: nothing written


def test_the_reducer_calls_an_op_by_its_function_and_exports_non_strict_as_simpler_steps():
    """A node called through a module (``Node.module``) gets the function spelling as one edit, and replacing its
    op by ``relu`` drops the module too (``nn.MaxPool2d`` is no spelling of relu); a strict export becomes a
    non-strict one."""
    from harness.case import Case
    from harness.case.decode import case_from_json
    from harness.case.encode import case_to_json

    x = Node("x", "placeholder", tensor=TensorMeta((1, 2, 4, 4)))
    pool = Node("pool", "call_function", "aten.max_pool2d.default", (Ref("x"), (2, 2)), module="MaxPool2d")
    case = Case(Graph((x, pool, Node("output", "output", args=((Ref("pool"),),)))), (), strict_export=True)
    edits = list(smaller_cases(case))
    spellings = [(e.graph.node("pool").target, e.graph.node("pool").module) for e in edits if "pool" in
                 {n.name for n in e.graph.nodes}]
    assert ("aten.max_pool2d.default", "") in spellings and ("aten.relu.default", "") in spellings
    assert ("aten.relu.default", "MaxPool2d") not in spellings
    assert any(not e.strict_export and e.graph == case.graph for e in edits)
    for e in edits:  # every edit can be saved: a module its op allows, or none
        assert case_from_json(case_to_json(e)) == e
