"""harness.fx.derive_registry: derive functions outside the built-in list, opted in by qualified name."""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from torchao.quantization.pt2e import DerivedObserverOrFakeQuantize
from torchao.quantization.pt2e.prepare import prepare

from harness import case as C
from harness.case.files import case_to_json, iter_cases, load_case, loads, save_case
from harness.case.jsonform import CaseFormatError
from harness.fx import derive_registry as R
from harness.fx import ops
from harness.fx.build import UnsupportedGraph, build, example_inputs, extract_case

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
OBS = "torchao.quantization.pt2e.observer."
ACT = C.QSpec("int8", C.Ctor(OBS + "MinMaxObserver"), -128, 127, "per_tensor_affine")
WEIGHT = C.QSpec("int8", C.Ctor(OBS + "MinMaxObserver"), -127, 127, "per_tensor_symmetric")


def doubled_bias_qparams(obs_or_fqs):
    """A derive function that is not built in: twice the usual bias scale (so the tests can tell it ran)."""
    act_scale, _ = obs_or_fqs[0].calculate_qparams()
    weight_scale, _ = obs_or_fqs[1].calculate_qparams()
    scale = (2 * act_scale * weight_scale).reshape(1).to(torch.float32)
    return scale, torch.zeros(1, dtype=torch.int32)


def make_local_derive_fn():
    """Returns a function defined inside this one that closes over nothing (like ExecuTorch's Arm bias function)."""

    def local_bias_qparams(obs_or_fqs):
        act_scale, _ = obs_or_fqs[0].calculate_qparams()
        weight_scale, _ = obs_or_fqs[1].calculate_qparams()
        return (3 * act_scale * weight_scale).reshape(1).to(torch.float32), torch.zeros(1, dtype=torch.int32)

    return local_bias_qparams


def make_closure(factor):
    def closure_bias_qparams(obs_or_fqs):
        return torch.tensor([factor], dtype=torch.float32), torch.zeros(1, dtype=torch.int32)

    return closure_bias_qparams


NAME = R.qualified_name(doubled_bias_qparams)
LOCAL_NAME = R.qualified_name(make_local_derive_fn())


def conv_case(derive_fn: str) -> C.Case:
    R_ = C.Ref
    nodes = (
        C.Node("w", "get_attr", "conv.weight", tensor=C.TensorMeta((4, 3, 3, 3), "float32"), attr_kind="parameter"),
        C.Node("b", "get_attr", "conv.bias", tensor=C.TensorMeta((4,), "float32"), attr_kind="parameter"),
        C.Node("x", "placeholder", tensor=C.TensorMeta((1, 3, 8, 8), "float32")),
        C.Node("conv2d", "call_function", "aten.conv2d.default", (R_("x"), R_("w"), R_("b"))),
        C.Node("output", "output", args=((R_("conv2d"),),)),
    )
    bias = C.DerivedSpec((C.EdgeRef("x", "conv2d"), C.EdgeRef("w", "conv2d")), derive_fn, "int32",
                         -(2**31), 2**31 - 1, "per_tensor_symmetric")
    ann = C.NodeAnnotation("conv2d", (("x", ACT), ("w", WEIGHT), ("b", bias)), ACT)
    return C.Case(C.Graph(nodes), (ann,), info=C.Info(title="opted-in derive function"))


def _bias_observer(prepared: torch.fx.GraphModule) -> torch.nn.Module:
    mods = dict(prepared.named_modules())
    found = [mods[n.target] for n in prepared.graph.nodes
             if n.op == "call_module" and isinstance(mods[n.target], DerivedObserverOrFakeQuantize)]
    assert len(found) == 1
    return found[0]


def test_names_are_module_colon_qualname():
    assert NAME.endswith(":doubled_bias_qparams") and ":" not in NAME.partition(":")[0]
    assert LOCAL_NAME.endswith(":make_local_derive_fn.<locals>.local_bias_qparams")


def test_an_opted_in_derive_function_round_trips_and_runs(tmp_path):
    case = conv_case(NAME)
    with R.allowed(NAME):
        path = save_case(case, tmp_path)
        assert json.loads(path.read_text())["annotations"][0]["inputs"][2]["spec"]["derive_fn"] == NAME
        loaded = load_case(path)
        assert loaded == case
        gm = build(loaded)
        assert extract_case(gm, info=case.info) == case  # extract records the qualified name
        prepared = prepare(gm, {}, False)
        prepared(*example_inputs(case.graph))
        bias_obs = _bias_observer(prepared)
        assert bias_obs.derive_qparams_fn is doubled_bias_qparams
        scale, zero_point = bias_obs.calculate_qparams()
        act, weight = bias_obs.obs_or_fqs
        torch.testing.assert_close(scale, 2 * act.calculate_qparams()[0] * weight.calculate_qparams()[0])
        assert zero_point.dtype == torch.int32
    assert NAME not in R.opted_in()


def test_without_the_opt_in_the_case_is_refused_naming_function_and_path(tmp_path):
    with R.allowed(NAME):
        path = save_case(conv_case(NAME), tmp_path)
    with pytest.raises(CaseFormatError) as info:
        load_case(path)
    message = str(info.value)
    assert message.startswith(f"{path}: annotations[0].inputs[2]")
    assert f"unknown derive function {NAME!r}" in message
    assert f"--pt2e-allow-derive={NAME}" in message
    with pytest.raises(ops.UnknownName, match="derive function"):
        ops.resolve_derive_fn(NAME)
    with pytest.raises(CaseFormatError, match="unknown derive function"):
        loads(json.dumps(case_to_json(conv_case("harness.derive.bias_qparams_per_tensor")))
              .replace("harness.derive.bias_qparams_per_tensor", "builtins:eval"))


def test_extract_needs_the_opt_in_and_says_which_name_to_pass():
    with R.allowed(NAME):
        gm = build(conv_case(NAME))
    assert R.unnamed_derive_functions(gm) == (NAME,)
    with pytest.raises(UnsupportedGraph, match=f"unknown derive function '{NAME}'"):
        extract_case(gm)
    with R.allowed(NAME):
        assert R.unnamed_derive_functions(gm) == ()
        assert extract_case(gm).annotations[0].inputs[2][1].derive_fn == NAME


def test_built_in_names_are_unchanged():
    for name, fn in R.BUILTIN.items():
        assert name.startswith("harness.derive.")
        assert ops.resolve_derive_fn(name) is fn and ops.derive_fn_name(fn) == name
    with R.allowed(NAME):
        assert ops.derive_fn_name(R.BUILTIN["harness.derive.bias_qparams_per_tensor"]).startswith("harness.derive.")


def test_every_derive_name_stored_in_the_corpus_resolves_with_no_module_of_that_name():
    """The stored names ``harness.derive.NAME`` are names, not a module: the registry resolves them to the functions
    of :mod:`harness.fx.derive`, so no forwarding module ``harness.derive`` is needed (and none exists)."""
    stored = {spec.derive_fn for _, case in iter_cases(CORPUS) for a in case.annotations
              for spec in (a.output, *(s for _, s in a.inputs)) if isinstance(spec, C.DerivedSpec)}
    assert stored and all(name.startswith("harness.derive.") for name in stored), stored
    for name in stored:
        fn = ops.resolve_derive_fn(name)
        assert fn.__module__ == "harness.fx.derive" and ops.derive_fn_name(fn) == name, name
    assert importlib.util.find_spec("harness.derive") is None


def test_a_local_function_is_rebuilt_from_its_code_and_recognised_by_it(tmp_path):
    with R.allowed(LOCAL_NAME):
        resolved = ops.resolve_derive_fn(LOCAL_NAME)
        fresh = make_local_derive_fn()
        assert resolved is not fresh and resolved.__code__ is fresh.__code__
        assert ops.derive_fn_name(fresh) == LOCAL_NAME
        case = conv_case(LOCAL_NAME)
        assert load_case(save_case(case, tmp_path)) == case
        gm = build(case)
        for node in gm.graph.nodes:  # as a quantizer would: its own function object from a new call
            qa = node.meta.get("quantization_annotation")
            if qa is not None:
                for arg, spec in qa.input_qspec_map.items():
                    if hasattr(spec, "derive_qparams_fn"):
                        object.__setattr__(spec, "derive_qparams_fn", make_local_derive_fn())
        assert extract_case(gm, info=case.info) == case
        prepared = prepare(gm, {}, False)
        prepared(*example_inputs(case.graph))
        bias_obs = _bias_observer(prepared)
        act, weight = bias_obs.obs_or_fqs
        torch.testing.assert_close(bias_obs.calculate_qparams()[0],
                                   3 * act.calculate_qparams()[0] * weight.calculate_qparams()[0])


def test_a_closure_over_variables_is_refused():
    name = R.qualified_name(make_closure(2.0))
    with pytest.raises(R.DeriveImportError, match="uses variables of the function around it.*factor"):
        R.allow(name)
    assert name not in R.opted_in()
    with R.allowed(LOCAL_NAME):
        with pytest.raises(ops.UnknownName):  # same qualname pattern, different code
            ops.derive_fn_name(make_closure(1.0))


@pytest.mark.parametrize("bad, problem", [
    ("harness.fx.derive.bias_qparams_per_tensor", "one ':'"),
    ("harness.fx.derive:nope", "has no 'nope'"),
    ("harness.no_such_module:f", "cannot import harness.no_such_module"),
    ("harness.fx.derive:__all__", "not callable"),
    ("harness.fx.derive:<locals>.f", "<locals> must stand between"),
    ("harness.fx.derive:bias_qparams_per_tensor.<locals>.nothing", "no function"),
    ("os.path:join; import os", "not a qualified function name"),
])
def test_bad_opt_ins_are_refused_and_allow_nothing(bad, problem):
    with pytest.raises(R.DeriveImportError, match=problem.replace("(", r"\(")):
        R.allow(NAME, bad)
    assert R.opted_in() == ()


def test_opt_ins_are_counted():
    R.allow(NAME)
    with R.allowed(NAME):
        assert NAME in R.opted_in()
    assert NAME in R.opted_in()
    R.disallow(NAME)
    assert NAME not in R.opted_in()
    with pytest.raises(ops.UnknownName):
        ops.derive_fn_name(doubled_bias_qparams)


def test_a_callable_that_is_not_a_function_gets_no_name_to_opt_in():
    partial = functools.partial(doubled_bias_qparams)
    assert R.qualified_name(partial) == "<a functools.partial object, not a function>"
    with pytest.raises(ops.UnknownName, match="functools.partial object"):
        ops.derive_fn_name(partial)
    with R.allowed(NAME):
        gm = build(conv_case(NAME))
    for node in gm.graph.nodes:
        qa = node.meta.get("quantization_annotation")
        for spec in (qa.input_qspec_map.values() if qa else ()):
            if hasattr(spec, "derive_qparams_fn"):
                object.__setattr__(spec, "derive_qparams_fn", partial)
    assert R.unnamed_derive_functions(gm) == ()
    with pytest.raises(UnsupportedGraph, match="functools.partial object"):
        extract_case(gm)
