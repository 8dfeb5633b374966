"""harness.case.decode / harness.case.files: malformed corpus files (a broken field, bad text, a file too large or
missing, random corruption) are refused with a typed error naming the file and the field."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import case as C
from harness.case import files as io
from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.case.jsonform import CaseFormatError

from corpus_sample import small_case

SRC = "corpus/x.json"


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
