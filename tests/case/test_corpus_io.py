"""harness.case.files / encode / decode: the corpus file format, its round trips, and safe concurrent writes (its
validation of malformed files is tests/case/test_corpus_malformed.py)."""

from __future__ import annotations

import builtins
import dataclasses
import json
import keyword
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import case as C
from harness.case import files as io
from harness.case import names
from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.case.jsonform import CaseFormatError

from corpus_sample import OBS, small_case

REPO = Path(__file__).resolve().parents[2]


# ---- round trips -------------------------------------------------------------------------------

_NAME_POOL = [n for n in ["a", "b", "conv", "relu_1", "x_", "_y", "cat", "split", "w9", "getitem_3", "lin",
                           "for", "max", "in", "float", "node"]
              if not keyword.iskeyword(n) and n not in builtins.__dict__]
_NAME = st.sampled_from(_NAME_POOL)
_TEXT = st.text(max_size=12)
_FLOAT = st.floats(allow_nan=False, allow_infinity=False)  # nan != nan, and the format refuses non-finite numbers
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2**62), 2**62), _FLOAT, _TEXT)
_CONST = st.sampled_from([C.Const(k, v) for k, vs in names.CONST_NAMES.items() for v in vs])
_DTYPE = st.sampled_from(names.DTYPE_NAMES)
_TENSOR_DTYPE = st.sampled_from(names.TENSOR_DTYPE_NAMES)
_QSCHEME = st.one_of(st.none(), st.sampled_from(names.QSCHEME_NAMES))
_OPT_INT = st.one_of(st.none(), st.integers(-1000, 1000))


def _ctor(depth=0):
    # observer kwargs are finite (a non-finite one is refused, see test_non_finite_observer_kwarg_is_refused)
    finite = st.floats(allow_nan=False, allow_infinity=False)
    scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), finite, _TEXT)
    value = scalar if depth else st.one_of(scalar, st.deferred(lambda: _ctor(1)))
    return st.builds(C.Ctor, st.sampled_from(names.CTOR_NAMES),
                     st.lists(st.tuples(_NAME, value), max_size=3, unique_by=lambda kv: kv[0]).map(tuple))


@st.composite
def cases(draw) -> C.Case:
    names_ = draw(st.lists(_NAME, min_size=3, max_size=8, unique=True))
    n_inputs = draw(st.integers(1, len(names_) - 1))
    nodes: list[C.Node] = []
    for name in names_[:n_inputs]:
        tensor = C.TensorMeta(tuple(draw(st.lists(st.integers(0, 5), max_size=4))), draw(_TENSOR_DTYPE))
        if draw(st.booleans()):
            nodes.append(C.Node(name, "placeholder", tensor=tensor))
        else:
            nodes.append(C.Node(name, "get_attr", f"m.{name}", tensor=tensor,
                                attr_kind=draw(st.sampled_from(["parameter", "buffer"]))))
    for name in names_[n_inputs:]:
        refs = st.sampled_from([C.Ref(n.name) for n in nodes])
        leaf = st.one_of(refs, _SCALAR, _CONST)
        arg = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3).map(tuple), max_leaves=6)
        kwargs = draw(st.lists(st.tuples(_NAME, arg), max_size=2, unique_by=lambda kv: kv[0]))
        nodes.append(C.Node(name, "call_function", draw(st.sampled_from(names.OP_NAMES)),
                            tuple(draw(st.lists(arg, max_size=3))), tuple(kwargs)))
    nodes.append(C.Node("output", "output", args=(tuple(C.Ref(n.name) for n in nodes[-2:]),)))
    all_names = [n.name for n in nodes]
    some = st.sampled_from(all_names)
    target = st.one_of(st.builds(C.NodeRef, some), st.builds(C.EdgeRef, some, some))
    spec = st.one_of(
        st.none(),
        st.builds(C.QSpec, _DTYPE, _ctor(), _OPT_INT, _OPT_INT, _QSCHEME, st.one_of(st.none(), st.integers(0, 3)),
                  st.booleans()),
        st.builds(C.SharedSpec, target),
        st.builds(C.DerivedSpec, st.lists(target, max_size=3).map(tuple), st.sampled_from(names.DERIVE_FN_NAMES),
                  _DTYPE, _OPT_INT, _OPT_INT, _QSCHEME, st.one_of(st.none(), st.integers(0, 3)), st.booleans()),
        st.builds(C.FixedSpec, _DTYPE, st.floats(allow_nan=False), st.integers(-128, 255), _OPT_INT, _OPT_INT,
                  _QSCHEME, st.booleans()),
    )
    annotated = draw(st.lists(some, max_size=4, unique=True))
    annotations = tuple(
        C.NodeAnnotation(n, tuple(draw(st.lists(st.tuples(some, spec), max_size=3, unique_by=lambda kv: kv[0]))),
                         draw(spec), draw(st.booleans()))
        for n in annotated)
    json_value = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), _FLOAT, _TEXT),
                              lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(_TEXT, inner, max_size=3)), max_leaves=8)
    expected = draw(st.one_of(st.none(), st.builds(C.Expected, st.one_of(st.none(), _TEXT)),
                              st.builds(C.Expected, st.none(), st.dictionaries(_TEXT, json_value, max_size=3))))
    info = C.Info(draw(_TEXT), draw(st.sampled_from(["conformance", "upstream_bug", "finding", "scenario"])),
                  draw(_TEXT), draw(_TEXT), draw(_TEXT), tuple(draw(st.lists(_TEXT, max_size=2))))
    return C.Case(C.Graph(tuple(nodes)), annotations, draw(st.booleans()), expected, info)


@settings(deadline=None)
@given(cases())
def test_json_round_trip(case):
    text = io.dumps(case)
    assert io.loads(text) == case
    assert case_from_json(case_to_json(case)) == case
    assert io.dumps(io.loads(text)) == text  # stable
    assert text.isascii() and text.endswith("\n")


def test_round_trip_of_a_hand_made_case_through_a_file(tmp_path):
    case = small_case()
    path = io.save_case(case, tmp_path)
    assert io.load_case(path) == case
    data = json.loads(path.read_text())
    assert data["format"] == "pt2e-case/1"
    fill = data["graph"]["nodes"][5]
    assert fill["args"][2] == {"float": "-inf"}
    assert data["graph"]["nodes"][2]["args"][0] == {"ref": "x"}
    assert data["graph"]["nodes"][4]["kwargs"] == [["memory_format",
                                                   {"const": "memory_format", "value": "contiguous_format"}]]
    specs = data["annotations"]
    assert specs[1]["output"] == {"kind": "shared", "target": {"edge": ["linear", "cat"]}}
    assert specs[1]["inputs"][0]["spec"] == {"kind": "shared", "target": {"node": "linear"}}
    assert [s["spec"]["kind"] for a in specs for s in a.get("inputs", [])] == ["quant", "quant", "shared", "derived"]
    assert specs[2]["output"]["kind"] == "fixed"


def test_nan_survives():
    case = small_case(scale=math.nan)
    again = io.loads(io.dumps(case))
    assert math.isnan(again.annotations[2].output.scale)


def test_non_finite_observer_kwarg_is_refused():
    case = small_case()
    ann = case.annotations[0]
    odd = C.QSpec("int8", C.Ctor(OBS + "MinMaxObserver", (("eps", math.inf),)))
    case = dataclasses.replace(case, annotations=(dataclasses.replace(ann, output=odd),) + case.annotations[1:])
    with pytest.raises(CaseFormatError, match=r"annotations\[0\]\.output\.observer\.kwargs\[0\]\[1\]: non-finite"):
        io.dumps(case)


def test_file_text_is_pretty_and_sorted():
    text = io.dumps(small_case())
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=1) + "\n"


# ---- saving ------------------------------------------------------------------------------------


def test_save_is_named_by_content_and_idempotent(tmp_path):
    case = small_case(title="Cat shares: odd case!")
    first = io.save_case(case, tmp_path)
    mtime = first.stat().st_mtime_ns
    second = io.save_case(case, tmp_path)
    assert first == second
    assert first.stat().st_mtime_ns == mtime  # identical content: not rewritten
    assert first.name == f"cat-shares-odd-case-{io.case_digest(case)[:12]}.json"
    assert first.stat().st_mode & 0o777 == 0o644  # an ordinary file others can read, not mkstemp's 0600
    other = io.save_case(small_case(title="Cat shares: odd case!", scale=0.25), tmp_path)
    assert other != first and other.name.startswith("cat-shares-odd-case-")
    untitled = io.save_case(small_case(title=""), tmp_path / "deeper")
    assert untitled.name.startswith("case-")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted([first.name, other.name,
                                                                                 untitled.name])
    loaded = io.iter_cases(tmp_path)
    assert [p for p, _ in loaded] == sorted([first, other, untitled])
    assert {p: c for p, c in loaded}[first] == case


def test_save_refuses_invalid_cases(tmp_path):
    bad = small_case()
    bad = C.Case(C.Graph(bad.graph.nodes[:-1]), bad.annotations)  # no output node
    with pytest.raises(CaseFormatError, match=r"exactly one output"):
        io.save_case(bad, tmp_path)
    not_a_case = C.Case(C.Graph(("oops",)), ())  # type: ignore[arg-type]
    with pytest.raises(CaseFormatError):
        io.save_case(not_a_case, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_iter_cases_ignores_temporary_files(tmp_path):
    path = io.save_case(small_case(), tmp_path)
    (tmp_path / f".{path.stem}.abc.tmp").write_text("partial")
    assert [p for p, _ in io.iter_cases(tmp_path)] == [path]


_WRITER = r"""
import json, random, sys
from harness.case import files as io
from harness.case.decode import case_from_json
cases = [case_from_json(d) for d in json.load(open(sys.argv[1]))]
order = list(range(len(cases))) * 3
random.Random(int(sys.argv[3])).shuffle(order)
for i in order:
    io.save_case(cases[i], sys.argv[2])
    for p, c in io.iter_cases(sys.argv[2]):  # readers never see a partial file
        assert c is not None
"""


def test_many_processes_writing_at_once(tmp_path):
    shared = [small_case(title=f"shared {i}", scale=1 / (i + 2)) for i in range(6)]
    own = {w: [small_case(title=f"own {w} {i}", scale=1 / (i + 50 + 10 * w)) for i in range(3)] for w in range(4)}
    out = tmp_path / "corpus"
    procs = []
    for w in range(4):
        src = tmp_path / f"cases{w}.json"
        src.write_text(json.dumps([case_to_json(c) for c in shared + own[w]]))
        env = dict(os.environ, PYTHONPATH=str(REPO))
        procs.append(subprocess.Popen([sys.executable, "-c", _WRITER, str(src), str(out), str(w)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    expected = {io.case_filename(c): c for c in shared + [c for cs in own.values() for c in cs]}
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(expected)  # nothing lost, nothing duplicated, no temporary files left
    for name, case in expected.items():
        assert io.load_case(out / name) == case  # nothing corrupt
        assert (out / name).read_text() == io.dumps(case)
