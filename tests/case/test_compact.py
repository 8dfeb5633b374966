"""harness.case.compact_decode / compact_encode: the compact (runs) encoding of cases, its limits, and the writer's choice."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import case as C
from harness.case import files as io
from harness.case.compact_decode import ENCODING, MAX_EXPANDED_BYTES, expand
from harness.case.compact_encode import compress
from harness.case.decode import case_from_json
from harness.case.limits import MAX_ANNOTATIONS, MAX_NODES
from harness.case.encode import case_to_json
from harness.case.jsonform import CaseFormatError
from harness.strategies import cases

REPO = Path(__file__).resolve().parents[2]
CHAIN = REPO / "corpus/upstream_bugs/sharing-chain-of-2000-links-anchored-at-its-end-953446b7bd53.json"
# sha256 of the chain's file as written before the compact form existed (pt2e-case/1, indented, 750,874 bytes)
CHAIN_PLAIN_SHA256 = "95c0b30ce9f9dd23932d45f36d53159ea3dc8eddf9f8412f8162bbf0aa6d4b22"
SRC = "corpus/x.json"
MINMAX = C.Ctor("torchao.quantization.pt2e.observer.MinMaxObserver")


def canonical(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


# ---- the 2000-link chain in the corpus ---------------------------------------------------------


def test_chain_file_is_compact_and_decodes_like_the_old_plain_file():
    text = CHAIN.read_text()
    assert len(text.encode()) <= 50 * 1024
    assert json.loads(text)["encoding"] == ENCODING
    case = io.load_case(CHAIN)
    plain = io.dumps(case, compact=False)
    assert hashlib.sha256(plain.encode()).hexdigest() == CHAIN_PLAIN_SHA256  # byte for byte the old file
    assert "encoding" not in json.loads(plain)
    assert io.loads(plain) == case
    assert len(case.graph.nodes) == 2002 and len(case.annotations) == 2000
    assert io.dumps(case) == text  # the writer chooses the compact form, and is stable
    assert CHAIN.name == io.case_filename(case) == io.case_filename(io.loads(plain))


def test_every_corpus_file_round_trips_through_the_compact_form():
    for path, case in io.iter_cases(REPO / "corpus"):
        assert io.loads(io.dumps(case, compact=True), str(path)) == case, path
        if path.parent.name != "quantizer_bugs":  # named by bug id there (harness.corpus.quantizer_bugs checks it)
            assert io.case_filename(case) == path.name


# ---- round trips -------------------------------------------------------------------------------


def _outcome(data):
    try:
        return case_from_json(data)
    except CaseFormatError as e:
        return str(e)


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(cases(max_nodes=16))
def test_generated_cases_round_trip_through_the_compact_form(case):
    data = case_to_json(case)
    plain = _outcome(data)
    # the same case, or the same error (harness.strategies.cases() may name a node 'max', which no file may)
    assert _outcome(compress(data)) == plain
    if plain == case:
        assert io.loads(io.dumps(case, compact=True)) == case


_UNARY = ["aten.relu.default", "aten.sigmoid.default", "aten.clone.default"]


@st.composite
def repeated_cases(draw) -> C.Case:
    """Chains of unary ops named ``<op>_<k>`` whose annotations mostly repeat: long runs with interruptions."""
    n = draw(st.integers(1, 40))
    first = draw(st.integers(0, 3))
    nodes = [C.Node("x", "placeholder", tensor=C.TensorMeta((2, 3)))]
    op = draw(st.sampled_from(_UNARY))
    for k in range(first, first + n):
        if draw(st.integers(0, 9)) == 0:
            op = draw(st.sampled_from(_UNARY))
        name = f"{op.split('.')[1]}_{k}" if draw(st.integers(0, 19)) else f"odd{k}x{k}"
        nodes.append(C.Node(name, "call_function", op, (C.Ref(nodes[-1].name),)))
    nodes.append(C.Node("output", "output", args=((C.Ref(nodes[-1].name),),)))
    anns = []
    for prev, node, nxt in zip(nodes, nodes[1:-1], nodes[2:]):
        kind = draw(st.sampled_from(["next", "next", "next", "edge", "quant", "none"]))
        if kind == "none":
            continue
        out = {"next": C.SharedSpec(C.NodeRef(nxt.name)), "edge": C.SharedSpec(C.EdgeRef(prev.name, node.name)),
               "quant": C.QSpec("uint8", MINMAX, 0, 255, "per_tensor_affine")}[kind]
        anns.append(C.NodeAnnotation(node.name, (), out))
    names = [n.name for n in nodes[1:-1]]
    canon = {"keys": sorted(f"out:{n}" for n in names), "attached": {f"out:{n}": 1 for n in names},
             "chains": {f"edge:{a}->{b}": [1] for a, b in zip(names, names[1:])}}
    return C.Case(C.Graph(tuple(nodes)), tuple(anns), expected=C.Expected(canonical=canon),
                  info=C.Info(title="repeated", kind="scenario"))


@settings(deadline=None, max_examples=80)
@given(repeated_cases())
def test_repeated_cases_round_trip_and_shrink(case):
    data = case_to_json(case)
    packed = compress(data)
    assert case_from_json(packed) == case
    assert canonical(expand(packed)) == canonical(data)
    assert len(canonical(packed)) <= len(canonical(data)) + 40  # never much larger, even without runs


def test_a_long_chain_is_stored_once():
    case = chain(300)
    packed = compress(case_to_json(case))
    assert [("run" in n, n.get("run", {}).get("count")) for n in packed["graph"]["nodes"]] == [
        (False, None), (False, None), (True, 299), (False, None)]
    assert packed["graph"]["nodes"][2]["run"]["item"]["name"] == "relu_{i}"
    assert packed["graph"]["nodes"][2]["run"]["item"]["args"] == [{"ref": "relu_{i-1}"}]
    assert packed["graph"]["nodes"][2]["run"]["start"] == 1
    assert case_from_json(packed) == case


_TEXT = st.text(st.sampled_from("ab1290{}_:-i+"), max_size=8) | st.sampled_from(["run", "{runs}", "{i}", "{{", "07"])
_LEAF = st.none() | st.booleans() | st.integers(-3, 12) | st.sampled_from([0.0, -0.0, 1.0, 1e300]) | _TEXT


@st.composite
def _counted(draw, inner):
    """A list with runs in it: a template value repeated with a counter substituted into its strings."""
    pattern = draw(st.sampled_from(["n_{}", "e:{}->{}", "{}", "x{}y", "{}_0"]))
    start, n = draw(st.integers(0, 120)), draw(st.integers(0, 14))
    value = draw(inner)
    items = [[pattern.format(k, k + 1), value] for k in range(start, start + n)]
    return sorted(x[0] for x in items) if draw(st.booleans()) else items


_JSON = st.recursive(_LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4)
                     | _counted(inner) | st.builds(lambda v: {"run": v}, inner)
                     | st.builds(lambda v: {"{runs}": v}, inner), max_leaves=30)


@settings(deadline=None, max_examples=300)
@given(_JSON)
def test_any_json_round_trips(value):
    data = {"format": "pt2e-case/1", "x": value}
    assert canonical(expand(compress(data))) == canonical(data)


@pytest.mark.parametrize("value", [
    [{"run": 1}, {"run": {"count": 3, "start": 0, "item": "a{i}"}}],  # literal run markers
    {"{runs}": [1, 2], "a": {"{runs}": {}}},  # literal runs keys
    ["{i}", "{i}", "{i}", "}{", "{{i}}"],  # braces in strings
    [f"n_{k}" for k in range(5)] + [f"n_{k}" for k in range(5)],
    [[k, True] for k in range(5)] + [[k, 1] for k in range(5, 9)],  # True is not 1
    [0.0, 0.0, -0.0, -0.0, -0.0],
    ["a_09", "a_10", "a_11", "a_12"],  # a leading zero does not count
    [f"v{k}" for k in range(10**9 - 2, 10**9 + 3)],  # more digits than a placeholder offset may have
])
def test_tricky_json_round_trips(value):
    data = {"format": "pt2e-case/1", "x": value}
    assert canonical(expand(compress(data))) == canonical(data)


# ---- limits and malformed compact files --------------------------------------------------------


def chain(n: int) -> C.Case:
    nodes = [C.Node("x", "placeholder", tensor=C.TensorMeta((2, 3)))]
    for k in range(n):
        nodes.append(C.Node(f"relu_{k}", "call_function", "aten.relu.default", (C.Ref(nodes[-1].name),)))
    nodes.append(C.Node("output", "output", args=((C.Ref(nodes[-1].name),),)))
    anns = tuple(C.NodeAnnotation(f"relu_{k}", (), C.SharedSpec(C.NodeRef(f"relu_{k + 1}"))) for k in range(n - 1))
    return C.Case(C.Graph(tuple(nodes)), anns + (C.NodeAnnotation(f"relu_{n - 1}", (), C.QSpec("uint8", MINMAX)),),
                  info=C.Info(title=f"chain of {n}", kind="scenario"))


def _packed() -> dict:
    return compress(case_to_json(chain(10)))


def _refused(data, match):
    started = time.perf_counter()
    with pytest.raises(CaseFormatError, match=match) as e:
        io.loads(json.dumps(data), SRC)
    assert time.perf_counter() - started < 1.0  # refused before anything is expanded
    assert e.value.source == SRC
    return e.value


def test_a_huge_node_run_is_refused_before_expansion():
    data = _packed()
    data["graph"]["nodes"][2]["run"]["count"] = 10**12
    err = _refused(data, r"^corpus/x\.json: graph\.nodes\[2\]\.run\.count: too many entries")
    assert str(MAX_NODES) in err.problem


def test_runs_that_together_exceed_max_nodes_are_refused():
    data = _packed()
    run = data["graph"]["nodes"][2]
    data["graph"]["nodes"][2:3] = [run] + [{"run": dict(run["run"], start=run["run"]["start"] + 9 * k,
                                                        count=9)} for k in range(1, 600)]
    assert sum(n["run"]["count"] for n in data["graph"]["nodes"] if "run" in n) > MAX_NODES
    _refused(data, r"graph\.nodes\[\d+\]\.run\.count: too many entries \(\d+ or more > 5000\)")


def test_a_huge_annotation_run_is_refused():
    data = _packed()
    data["annotations"][0]["run"]["count"] = MAX_ANNOTATIONS + 1
    _refused(data, r"annotations\[0\]\.run\.count: too many entries")


def test_a_huge_run_elsewhere_is_refused_by_its_size():
    data = _packed()
    data["expected"] = {"canonical": {"x": [{"run": {"count": 10**9, "start": 0, "item": "a{i}" * 10}}]}}
    _refused(data, rf"expected\.canonical\.x\[0\]\.run\.count: .*beyond the limit of {MAX_EXPANDED_BYTES} bytes")
    data["expected"] = {"canonical": {"{runs}": [{"run": {"count": 10**6, "start": 0, "item": ["k{i}", "v" * 20]}}]}}
    _refused(data, r"expected\.canonical\.\{runs\}\[0\]\.run\.count: .*beyond the limit")


@pytest.mark.parametrize("change, match", [
    (lambda d: d.update(encoding="runs/2"), r"encoding: unknown encoding 'runs/2'"),
    (lambda d: d["graph"]["nodes"][2]["run"].update(count=0), r"graph\.nodes\[2\]\.run\.count: .*at least one"),
    (lambda d: d["graph"]["nodes"][2]["run"].update(count="9"), r"graph\.nodes\[2\]\.run\.count: expected an int"),
    (lambda d: d["graph"]["nodes"][2]["run"].update(start=-1), r"graph\.nodes\[2\]\.run\.start: .*0 or more"),
    (lambda d: d["graph"]["nodes"][2]["run"].update(step=2), r"graph\.nodes\[2\]\.run: unexpected field 'step'"),
    (lambda d: d["graph"]["nodes"][2]["run"].update(order="text"), r"graph\.nodes\[2\]\.run\.item: .*string"),
    (lambda d: d["graph"]["nodes"][2]["run"]["item"].update(name="relu_{j}"),
     r"graph\.nodes\[2\]\.run\.item\.name: bad template 'relu_\{j\}': stray '\{'"),
    (lambda d: d["graph"]["nodes"][2]["run"]["item"].update(name="relu_{i-2}"),
     r"graph\.nodes\[2\]\.run\.item\.name: .*negative number at i = 1"),
    (lambda d: d["graph"]["nodes"][2]["run"]["item"].update(name="relu_{i+1}"),
     r"graph\.nodes\[3\]\.args\[0\]\.ref: unknown node 'relu_1'"),  # the path of the expanded node
    (lambda d: d["graph"]["nodes"][2]["run"]["item"].update(args=[{"ref": "relu_{i}"}]),
     r"graph\.nodes\[2\]\.args\[0\]\.ref: node 'relu_1' is used before it is defined"),
    (lambda d: d.update({"{runs}": [["is_qat", True]]}), r"\{runs\}\[0\]: duplicate key 'is_qat'"),
    (lambda d: d["info"].update({"{runs}": [["k", 1], ["k", 2]]}), r"info\.\{runs\}\[1\]: duplicate key 'k'"),
    (lambda d: d.update({"{runs}": [["encoding", "runs/1"]]}), r"a pair may not give the field 'encoding'"),
    (lambda d: d.update({"{runs}": [[1, 2]]}), r"\{runs\}\[0\]: expected a \[key, value\] pair"),
    (lambda d: d["graph"]["nodes"][2]["run"]["item"].update({"x{i}": 1, "x1": 2}),
     r"graph\.nodes\[2\]\.run\.item: two keys of the template give the key 'x1'"),
])
def test_malformed_compact_data_is_refused_with_its_path(change, match):
    data = _packed()
    change(data)
    _refused(data, match)


def test_plain_files_need_no_encoding_field():
    data = case_to_json(chain(5))
    assert "encoding" not in data and case_from_json(data) == chain(5)
    data["encoding"] = "runs/1"
    assert case_from_json(data) == chain(5)  # a compact document may hold no runs at all


# ---- the writer's choice -----------------------------------------------------------------------


def test_small_cases_are_written_plain_and_large_ones_compact(tmp_path):
    small, large = chain(20), chain(1500)
    assert "encoding" not in json.loads(io.dumps(small))
    assert len(io.dumps(large, compact=False)) > io.COMPACT_ABOVE
    text = io.dumps(large)
    assert json.loads(text)["encoding"] == ENCODING and len(text) < 4096 and text.startswith("{\n ")
    path = io.save_case(large, tmp_path)
    assert path.read_text() == text and path.name == io.case_filename(large)
    assert io.load_case(path) == large
    assert io.case_digest(io.loads(text)) == io.case_digest(io.loads(io.dumps(large, compact=False)))


def test_a_large_case_without_runs_is_written_compact_without_whitespace():
    nodes = [C.Node("x", "placeholder", tensor=C.TensorMeta((2, 3)))]
    ops = ["aten.relu.default", "aten.sigmoid.default"]
    for k in range(1200):  # names that never count up by one
        nodes.append(C.Node(f"n{k * 7}_{ops[k % 2][5:9]}", "call_function", ops[k % 2], (C.Ref(nodes[-1].name),)))
    nodes.append(C.Node("output", "output", args=((C.Ref(nodes[-1].name),),)))
    case = C.Case(C.Graph(tuple(nodes)), (), info=C.Info(title="no runs", kind="scenario"))
    text = io.dumps(case)
    assert "\n" not in text.rstrip("\n") and len(text) < len(io.dumps(case, compact=False)) * 0.7
    assert io.loads(text) == case
