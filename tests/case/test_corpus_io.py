"""harness.case.files / encode / decode: the corpus file format, its validation, and safe concurrent writes."""

from __future__ import annotations

import builtins
import copy
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

REPO = Path(__file__).resolve().parents[2]
OBS = "torchao.quantization.pt2e.observer."
SRC = "corpus/x.json"


def small_case(title: str = "sample case", scale: float = 0.5) -> C.Case:
    R = C.Ref
    act = C.QSpec("int8", C.Ctor(OBS + "HistogramObserver", (("eps", 2**-12),)), -128, 127, "per_tensor_affine")
    fq = C.Ctor("torchao.quantization.pt2e.fake_quantize.FakeQuantize",
                (("observer", C.Ctor(OBS + "MovingAverageMinMaxObserver", (("averaging_constant", 1),))),))
    weight = C.QSpec("int8", fq, -127, 127, "per_channel_symmetric", ch_axis=0)
    nodes = (
        C.Node("w", "get_attr", "lin.weight", tensor=C.TensorMeta((4, 6)), attr_kind="parameter"),
        C.Node("x", "placeholder", tensor=C.TensorMeta((2, 6))),
        C.Node("linear", "call_function", "aten.linear.default", (R("x"), R("w"))),
        C.Node("cat", "call_function", "aten.cat.default", ((R("linear"), R("linear")), -1)),
        C.Node("clone", "call_function", "aten.clone.default", (R("cat"),),
               (("memory_format", C.Const("memory_format", "contiguous_format")),)),
        C.Node("fill", "call_function", "aten.masked_fill.Scalar", (R("clone"), R("clone"), -math.inf)),
        C.Node("output", "output", args=((R("fill"),),)),
    )
    annotations = (
        C.NodeAnnotation("linear", (("x", act), ("w", weight)), act),
        C.NodeAnnotation("cat", (("linear", C.SharedSpec(C.NodeRef("linear"))),),
                         C.SharedSpec(C.EdgeRef("linear", "cat"))),
        C.NodeAnnotation("clone", (("cat", C.DerivedSpec((C.EdgeRef("x", "linear"), C.NodeRef("w")),
                                                         "harness.derive.bias_qparams_per_channel", "int32",
                                                         qscheme="per_channel_symmetric", ch_axis=0)),),
                         C.FixedSpec("uint8", scale, 0, 0, 255), allow_implicit_sharing=False),
    )
    return C.Case(C.Graph(nodes), annotations, is_qat=True,
                  expected=C.Expected(canonical={"groups": [[1, 2.5, "a"]], "ok": True, "none": None}),
                  info=C.Info(title=title, kind="conformance", notes="ünïcode ✓", tags=("a", "b")))


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


# ---- malformed input ---------------------------------------------------------------------------


def _base() -> dict:
    return case_to_json(small_case())


def _mutate(fn):
    data = _base()
    fn(data)
    return data


def _node(data, i):
    return data["graph"]["nodes"][i]


def _set(path, value):
    def fn(data):
        *head, last = path
        obj = data
        for key in head:
            obj = obj[key]
        obj[last] = value
    return fn


def _delete(path):
    def fn(data):
        *head, last = path
        obj = data
        for key in head:
            obj = obj[key]
        del obj[last]
    return fn


NODES = ("graph", "nodes")
ANN = ("annotations",)

MALFORMED = {
    "top-level array": (lambda d: None, [], r"expected an object, got an array"),
    "wrong format": (_set(("format",), "pt2e-case/0"), None, r"format: expected 'pt2e-case/1'"),
    "missing graph": (_delete(("graph",)), None, r"missing field 'graph'"),
    "unexpected field": (_set(("extra",), 1), None, r"unexpected field 'extra'"),
    "nodes not array": (_set(NODES, {}), None, r"graph.nodes: expected an array, got an object"),
    "node missing name": (_delete(NODES + (2, "name")), None, r"graph.nodes\[2\]: missing field 'name'"),
    "name wrong type": (_set(NODES + (2, "name"), 7), None, r"graph.nodes\[2\].name: expected a string"),
    "name not identifier": (_set(NODES + (2, "name"), "1x"), None, r"graph.nodes\[2\].name: '1x' is not a valid"),
    "name shadows builtin": (_set(NODES + (2, "name"), "max"), None, r"graph.nodes\[2\].name: .*builtin"),
    "duplicate name": (_set(NODES + (3, "name"), "linear"), None, r"graph.nodes\[3\].name: duplicate node name"),
    "unknown node op": (_set(NODES + (2, "op"), "call_module"), None, r"graph.nodes\[2\].op: unknown node op"),
    "unknown op": (_set(NODES + (2, "target"), "aten.sin.default"), None,
                   r"graph.nodes\[2\].target: unknown op 'aten.sin.default'"),
    "unknown ref": (_set(NODES + (2, "args", 0), {"ref": "foo"}), None,
                    r"graph.nodes\[2\].args\[0\].ref: unknown node 'foo'"),
    "forward ref": (_set(NODES + (2, "args", 0), {"ref": "clone"}), None,
                    r"graph.nodes\[2\].args\[0\].ref: node 'clone' is used before it is defined"),
    "self ref": (_set(NODES + (2, "args", 0), {"ref": "linear"}), None, r"used before it is defined"),
    "nested unknown ref": (_set(NODES + (3, "args", 0, 1), {"ref": "foo"}), None,
                           r"graph.nodes\[3\].args\[0\]\[1\].ref: unknown node 'foo'"),
    "unknown const": (_set(NODES + (4, "kwargs", 0, 1), {"const": "memory_format", "value": "weird"}), None,
                      r"graph.nodes\[4\].kwargs\[0\]\[1\].value: unknown memory_format 'weird'"),
    "unknown const kind": (_set(NODES + (4, "kwargs", 0, 1), {"const": "module", "value": "os"}), None,
                           r"unknown constant kind 'module'"),
    "bad float": (_set(NODES + (5, "args", 2), {"float": "big"}), None, r"expected 'inf', '-inf' or 'nan'"),
    "unknown arg object": (_set(NODES + (5, "args", 2), {"eval": "1"}), None, r"needs a 'ref', 'const' or 'float'"),
    "bad kwargs pair": (_set(NODES + (4, "kwargs", 0), ["memory_format"]), None,
                        r"graph.nodes\[4\].kwargs\[0\]: expected a \[name, value\] pair"),
    "placeholder without tensor": (_delete(NODES + (1, "tensor")), None, r"graph.nodes\[1\]: a placeholder node needs"),
    "negative size": (_set(NODES + (1, "tensor", "shape"), [2, -1]), None,
                      r"graph.nodes\[1\].tensor.shape\[1\]: negative size -1"),
    "tensor too large": (_set(NODES + (1, "tensor", "shape"), [2**12, 2**12, 2]), None, r"tensor too large"),
    "unknown tensor dtype": (_set(NODES + (1, "tensor", "dtype"), "float31"), None,
                             r"graph.nodes\[1\].tensor.dtype: unknown tensor dtype 'float31'"),
    "sub-byte tensor dtype": (_set(NODES + (1, "tensor", "dtype"), "int4"), None,
                              r"graph.nodes\[1\].tensor.dtype: unknown tensor dtype 'int4'"),
    "bool as size": (_set(NODES + (1, "tensor", "shape"), [True]), None, r"expected an integer, got a boolean"),
    "bad attr_kind": (_set(NODES + (0, "attr_kind"), "constant"), None, r"graph.nodes\[0\].attr_kind"),
    "bad attr path": (_set(NODES + (0, "target"), "lin..weight"), None, r"graph.nodes\[0\].target: expected a dotted"),
    "output not last": (lambda d: d["graph"]["nodes"].append({"name": "late", "op": "placeholder",
                                                             "tensor": {"shape": []}}), None,
                        r"graph.nodes: a graph needs exactly one output node, and it must be last"),
    "unknown observer": (_set(ANN + (0, "inputs", 0, "spec", "observer", "class"), "os.system"), None,
                         r"annotations\[0\].inputs\[0\].spec.observer.class: unknown observer class 'os.system'"),
    "ctor kwarg list": (_set(ANN + (0, "inputs", 0, "spec", "observer", "kwargs", 0, 1), [1]), None,
                        r"observer.kwargs\[0\]\[1\]: expected a JSON scalar or an observer"),
    "nested unknown observer": (_set(ANN + (0, "inputs", 1, "spec", "observer", "kwargs", 0, 1, "class"), "x.Y"),
                                None, r"observer.kwargs\[0\]\[1\].class: unknown observer class 'x.Y'"),
    "unknown derive fn": (_set(ANN + (2, "inputs", 0, "spec", "derive_fn"), "builtins.eval"), None,
                          r"annotations\[2\].inputs\[0\].spec.derive_fn: unknown derive function 'builtins.eval'"),
    "unknown spec dtype": (_set(ANN + (0, "output", "dtype"), "int9"), None,
                           r"annotations\[0\].output.dtype: unknown dtype 'int9'"),
    "unknown qscheme": (_set(ANN + (0, "output", "qscheme"), "per_block"), None,
                        r"annotations\[0\].output.qscheme: unknown qscheme 'per_block'"),
    "unknown spec kind": (_set(ANN + (0, "output", "kind"), "dynamic"), None, r"output.kind: unknown spec kind"),
    "spec not object": (_set(ANN + (0, "output"), 5), None, r"annotations\[0\].output: expected a spec object"),
    "bool as quant_min": (_set(ANN + (0, "output", "quant_min"), True), None,
                          r"annotations\[0\].output.quant_min: expected an integer, got a boolean"),
    "string scale": (_set(ANN + (2, "output", "scale"), "0.5"), None, r"output.scale: expected a number"),
    "annotation of unknown node": (_set(ANN + (0, "node"), "ghost"), None,
                                   r"annotations\[0\].node: unknown node 'ghost'"),
    "input of unknown node": (_set(ANN + (0, "inputs", 0, "arg"), "ghost"), None,
                              r"annotations\[0\].inputs\[0\].arg: unknown node 'ghost'"),
    "duplicate input": (_set(ANN + (0, "inputs", 1, "arg"), "x"), None, r"inputs\[1\].arg: input 'x' given twice"),
    "shared to unknown edge": (_set(ANN + (1, "output", "target"), {"edge": ["linear", "ghost"]}), None,
                               r"annotations\[1\].output.target.edge\[1\]: unknown node 'ghost'"),
    "bad target": (_set(ANN + (1, "output", "target"), ["linear"]), None, r"output.target: expected"),
    "annotated twice": (lambda d: d["annotations"].append({"node": "linear"}), None,
                        r"annotations\[3\].node: node 'linear' is annotated twice"),
    "bad allow_implicit_sharing": (_set(ANN + (2, "allow_implicit_sharing"), "no"), None,
                                   r"allow_implicit_sharing: expected true or false"),
    "bad info kind": (_set(("info", "kind"), "bug"), None, r"info.kind: unknown kind 'bug'"),
    "error and canonical": (_set(("expected", "error"), "CyclicSharingError"), None, r"expected: give either"),
    "too many nodes": (lambda d: d["graph"]["nodes"].extend([{"name": f"n{i}", "op": "placeholder"}
                                                            for i in range(5001)]), None,
                       r"graph.nodes: too many entries \(5008 > 5000\)"),
    "deep nesting": (_set(NODES + (3, "args", 1), json.loads("[" * 40 + "]" * 40)), None,
                     r"graph.nodes\[3\].args\[1\](\[0\])+: arguments nested too deeply"),
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_cases_name_the_file_and_field(kind):
    fn, replacement, match = MALFORMED[kind]
    data = replacement if replacement is not None else _mutate(fn)
    with pytest.raises(CaseFormatError, match=match) as info:
        case_from_json(data, SRC)
    assert str(info.value).startswith(f"{SRC}: ")
    assert "unexpected " not in str(info.value) or kind == "unexpected field"
    # the same through text, as a file would be read
    with pytest.raises(CaseFormatError, match=match):
        io.loads(json.dumps(data), SRC)


@pytest.mark.parametrize(
    "text,match",
    [
        (io.dumps(small_case())[:200], r"invalid JSON at line \d+ column \d+"),
        (b"\xff\xfe{}", r"not UTF-8"),
        ('{"format": NaN}', r"non-standard JSON constant NaN"),
        ('{"format": "pt2e-case/1", "format": "pt2e-case/1"}', r"duplicate key 'format'"),
        ("[" * 100_000 + "]" * 100_000, r"nested too deeply"),
        ("", r"invalid JSON"),
    ],
)
def test_malformed_text(text, match):
    with pytest.raises(CaseFormatError, match=match) as info:
        io.loads(text, SRC)
    assert str(info.value).startswith(f"{SRC}: ")


def test_oversized_and_missing_files(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (io.MAX_FILE_BYTES + 1))
    with pytest.raises(CaseFormatError, match=r"big.json: file too large"):
        io.load_case(big)
    with pytest.raises(CaseFormatError, match=r"nope.json: cannot read"):
        io.load_case(tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError):
        io.iter_cases(tmp_path / "nowhere")
    bad = tmp_path / "corpus" / "sub" / "bad.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"format": "pt2e-case/1"')
    with pytest.raises(CaseFormatError, match=r"sub/bad.json: invalid JSON"):
        io.iter_cases(tmp_path / "corpus")


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, prefix + (i,))


_BASE_PATHS = [p for p in _paths(_base()) if p]
_JUNK = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
                     lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner,
                                                                                            max_size=3)), max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_BASE_PATHS), st.one_of(st.just("delete"), _JUNK)), min_size=1,
                max_size=3))
def test_random_corruption_gives_a_case_or_a_typed_error(edits):
    data = _base()
    for path, value in edits:
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            if value == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed the spot
    try:
        case = case_from_json(data, SRC)
    except CaseFormatError as e:
        assert str(e).startswith(f"{SRC}: ")
        assert "(unexpected " not in str(e), str(e)  # not the catch-all: a real check caught it
    else:
        assert isinstance(case, C.Case)
        assert case_from_json(case_to_json(case)) == case or _has_nan(case)


def _has_nan(case):
    return "nan" in repr(case)


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
