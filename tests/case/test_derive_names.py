"""harness.case.derive_names: which derive-function names a case may hold (built in, or opted in), without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness import case as C
from harness.case import derive_names
from harness.case.files import dumps, loads
from harness.case.jsonform import CaseFormatError

FOREIGN = "mypkg.bias:derive_bias"  # never imported: decoding only checks the name


def _case(derive_fn: str) -> C.Case:
    nodes = (C.Node("x", "placeholder", tensor=C.TensorMeta((2,), "float32")),
             C.Node("relu", "call_function", "aten.relu.default", (C.Ref("x"),)),
             C.Node("output", "output", args=(C.Ref("relu"),)))
    spec = C.DerivedSpec((C.NodeRef("x"),), derive_fn, "int32", -(2**31), 2**31 - 1, "per_tensor_symmetric")
    return C.Case(C.Graph(nodes), (C.NodeAnnotation("relu", output=spec),))


def _text_naming(derive_fn: str) -> str:
    text = dumps(_case("harness.derive.bias_qparams_per_tensor"), compact=False)
    return text.replace('"harness.derive.bias_qparams_per_tensor"', json.dumps(derive_fn))


@pytest.mark.parametrize("good", ["a:f", "pkg.mod:f", "pkg.mod:Cls.method",
                                  "pkg.mod:Cls.method.<locals>.inner", "m:f.<locals>.g.<locals>.h"])
def test_qualified_names_accepted(good):
    assert derive_names.check_qualified_name(good) == good


@pytest.mark.parametrize("bad", ["pkg.mod.f", "pkg:mod:f", ":f", "pkg.:f", "pkg.mod:", "pkg.mod:<locals>.f",
                                 "pkg.mod:f.<locals>", "pkg.mod:f.<locals>.<locals>.g", "pkg.mod:f()",
                                 "import os:f", "pkg.mod:class", 3, None])
def test_qualified_names_refused(bad):
    with pytest.raises(ValueError):
        derive_names.check_qualified_name(bad)


def test_a_name_outside_both_lists_is_refused_with_the_path_and_how_to_opt_in():
    with pytest.raises(CaseFormatError) as info:
        loads(_text_naming(FOREIGN), "corpus/x.json")
    assert info.value.source == "corpus/x.json"
    assert info.value.path == "annotations[0].output.derive_fn"
    assert f"unknown derive function {FOREIGN!r}" in str(info.value)
    assert f"--pt2e-allow-derive={FOREIGN}" in str(info.value)


def test_a_malformed_name_gets_no_opt_in_hint():
    with pytest.raises(CaseFormatError) as info:
        loads(_text_naming("builtins.eval"))
    assert "unknown derive function 'builtins.eval'" in str(info.value) and "--pt2e-allow-derive" not in str(info.value)


def test_an_opted_in_name_decodes_and_the_opt_out_refuses_it_again():
    derive_names.opt_in(FOREIGN)
    try:
        assert derive_names.is_allowed(FOREIGN)
        assert loads(_text_naming(FOREIGN)) == _case(FOREIGN)
    finally:
        derive_names.opt_out(FOREIGN)
    assert not derive_names.is_allowed(FOREIGN)
    with pytest.raises(CaseFormatError):
        loads(_text_naming(FOREIGN))


def test_built_in_names_stay_valid():
    for name in ("harness.derive.bias_qparams_per_tensor", "harness.derive.bias_qparams_per_channel"):
        assert derive_names.is_allowed(name)
        assert loads(_text_naming(name)) == _case(name)


def test_opt_in_checks_the_name_and_counts():
    with pytest.raises(ValueError):
        derive_names.opt_in("not a name")
    derive_names.opt_in(FOREIGN)
    derive_names.opt_in(FOREIGN)
    derive_names.opt_out(FOREIGN)
    assert derive_names.opted_in() == (FOREIGN,)
    derive_names.opt_out(FOREIGN)
    assert derive_names.opted_in() == ()
    derive_names.opt_out(FOREIGN)  # one too many: nothing happens
    assert derive_names.opted_in() == ()


def test_decoding_imports_neither_torch_nor_the_named_module():
    code = ("import sys; from harness.case import derive_names; from harness.case.files import loads; "
            f"derive_names.opt_in({FOREIGN!r}); loads(sys.stdin.read()); "
            "assert 'torch' not in sys.modules and 'mypkg' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], input=_text_naming(FOREIGN), text=True, check=True)
