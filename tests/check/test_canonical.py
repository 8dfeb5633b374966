"""Tests of harness.check.canonical and its pieces (keys, observer_map, observer_config) on torchao's prepare
output for hand-annotated and XNNPACK-annotated models."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from harness.check.canonical import Canonical, canonical_error, canonical_form
from harness.check.keys import CanonicalFormatError, annotated_keys, edge_key, key_of, output_key, parse_key
from harness.check.observer_map import is_observer_module, locate_observers
from prepared_models import CASES, FIXED, annotated, obs_node, prepared_case
from torchao.quantization.pt2e.prepare import prepare
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation


def _observers(gm):
    return [n for n in gm.graph.nodes if n.op == "call_module" and is_observer_module(gm.get_submodule(n.target))]


# ---- keys ----------------------------------------------------------------------------------------


def test_key_strings_round_trip():
    assert parse_key(edge_key("a_1", "add")) == ("edge", "a_1", "add")
    assert parse_key(output_key("relu")) == ("out", "relu", None)
    for bad in ("a->b", "edge:a", "out:", "edge:a->", "in:x"):
        with pytest.raises(CanonicalFormatError, match="not a key string"):
            parse_key(bad)


def test_key_of_rejects_non_nodes():
    gm = annotated("relu_add")
    nodes = {n.name: n for n in gm.graph.nodes}
    assert key_of(nodes["relu"]) == "out:relu"
    assert key_of((nodes["relu"], nodes["add"])) == "edge:relu->add"
    with pytest.raises(TypeError, match="expected an fx Node"):
        key_of(("relu", "add"))


def test_annotated_keys_skip_none_specs_and_keep_order():
    gm = annotated("conv_derived")
    keys = list(annotated_keys(gm))
    # conv2d's inputs in input_qspec_map order, then its output, then relu's
    assert keys == [
        "edge:x->conv2d",
        "edge:conv_weight->conv2d",
        "edge:conv_bias->conv2d",
        "out:conv2d",
        "edge:conv2d->relu",
        "out:relu",
    ]
    xnn = annotated("xnnpack")
    # XNNPACK gives the linear bias a None spec: not a key
    assert "edge:lin_bias->linear" not in annotated_keys(xnn)
    assert "edge:lin_weight->linear" in annotated_keys(xnn)


# ---- groups --------------------------------------------------------------------------------------


def test_explicit_and_implicit_sharing_form_one_group():
    p = prepared_case("relu_add")
    c = canonical_form(p.original, p.prepared)
    assert [g.keys for g in c.groups] == [
        ("edge:relu->add", "edge:y->add", "out:relu"),  # implicit (relu->add) + explicit (y shares it)
        ("edge:x->relu",),
        ("out:add",),
    ]
    assert c.unobserved == ()
    assert c.error is None
    g = c.groups[0].observer
    assert g.cls == "torchao.quantization.pt2e.observer.MinMaxObserver"
    assert (g.dtype, g.quant_min, g.quant_max, g.qscheme) == ("torch.int8", -128, 127, "torch.per_tensor_affine")
    assert g.ch_axis is None and g.inner is None and g.scale is None
    # y is observed by the shared instance through its own node: 4 nodes, 3 instances
    assert (c.structure.observer_nodes, c.structure.observer_modules) == (4, 3)


def test_edge_with_other_spec_gets_second_observer_after_output_observer():
    p = prepared_case("chain")
    c = canonical_form(p.original, p.prepared)
    assert [g.keys for g in c.groups] == [("edge:relu->add",), ("out:relu",)]
    assert [g.observer.dtype for g in c.groups] == ["torch.uint8", "torch.int8"]
    chains = dict(c.structure.edge_chains)
    assert chains["edge:relu->add"] == (2,)
    assert chains["edge:relu->mul"] == (1,)  # the unannotated consumer reads the output observer
    assert dict(c.structure.attached)["out:relu"] == 1


def test_edge_observer_is_the_one_nearest_the_consumer():
    p = prepared_case("chain")
    om = locate_observers(p.original, p.prepared)
    out_obs = om.key_node["out:relu"]
    edge_obs = om.key_node["edge:relu->add"]
    assert out_obs.args[0].name == "relu"
    assert edge_obs.args[0] is out_obs
    assert om.edge_chains["edge:relu->add"] == [[out_obs, edge_obs]]


def test_derived_group_names_its_source_groups_in_order():
    p = prepared_case("conv_derived")
    c = canonical_form(p.original, p.prepared)
    bias = c.group_of("edge:conv_bias->conv2d").observer
    assert bias.cls == "torchao.quantization.pt2e.DerivedObserverOrFakeQuantize"
    assert bias.derived_from == (("edge:x->conv2d",), ("edge:conv_weight->conv2d",))
    assert bias.derive_fn == "prepared_models.derive_bias_qparams"
    assert bias.dtype == "torch.int32"
    # relu shares conv2d's output observer explicitly
    assert c.group_of("out:relu").keys == ("edge:conv2d->relu", "out:conv2d", "out:relu")


@pytest.mark.parametrize("is_qat", [False, True])
def test_fixed_qparams_config(is_qat):
    p = prepared_case("fixed", is_qat)
    c = canonical_form(p.original, p.prepared)
    g = c.group_of("out:sigmoid").observer
    if is_qat:
        assert g.cls == "torchao.quantization.pt2e.fake_quantize.FixedQParamsFakeQuantize"
        assert g.inner == "torchao.quantization.pt2e.observer.FixedQParamsObserver"
    else:
        assert g.cls == "torchao.quantization.pt2e.observer.FixedQParamsObserver"
        assert g.inner is None
    assert g.scale == pytest.approx(FIXED["scale"]) and g.zero_point == FIXED["zero_point"]
    assert (g.quant_min, g.quant_max, g.dtype) == (0, 255, "torch.uint8")


def test_cat_inputs_in_a_list_are_found():
    p = prepared_case("cat")
    c = canonical_form(p.original, p.prepared)
    assert [g.keys for g in c.groups] == [("edge:relu->cat", "edge:tanh->cat", "out:cat", "out:relu")]
    assert dict(c.structure.edge_chains)["edge:tanh->cat"] == (1,)


def test_output_that_is_not_a_tensor_is_unobserved():
    p = prepared_case("not_tensor")
    c = canonical_form(p.original, p.prepared)
    assert c.unobserved == ("out:relu",)
    # the uint8 edge observer hangs on relu directly and only add reads it: not an output observer
    assert [g.keys for g in c.groups] == [("edge:relu->add",)]
    assert locate_observers(p.original, p.prepared).edge_chains["edge:relu->mul"] == [[]]
    assert "edge:relu->mul" not in dict(c.structure.edge_chains)  # unannotated and unobserved: not listed


def test_inplace_buffer_destination_is_unobserved():
    p = prepared_case("buffer")
    c = canonical_form(p.original, p.prepared)
    assert c.unobserved == ("edge:buf->copy_",)
    assert c.group_of("edge:x->copy_").keys == ("edge:x->copy_", "edge:x->relu")


def test_consumer_reading_producer_directly_is_unobserved():
    p = prepared_case("relu_add")
    edge_obs = locate_observers(p.original, p.prepared).key_node["edge:x->relu"]
    edge_obs.replace_all_uses_with(edge_obs.args[0])
    p.prepared.graph.erase_node(edge_obs)
    c = canonical_form(p.original, p.prepared)
    assert c.unobserved == ("edge:x->relu",)
    assert dict(c.structure.edge_chains)["edge:x->relu"] == (0,)


def test_removing_an_edge_observer_after_an_output_observer_merges_the_edge_into_it():
    p = prepared_case("chain")
    edge_obs = locate_observers(p.original, p.prepared).key_node["edge:relu->add"]
    edge_obs.replace_all_uses_with(edge_obs.args[0])
    p.prepared.graph.erase_node(edge_obs)
    c = canonical_form(p.original, p.prepared)
    # add now reads relu through relu's output observer: the edge is observed by it
    assert c.unobserved == ()
    assert [g.keys for g in c.groups] == [("edge:relu->add", "out:relu")]
    assert dict(c.structure.edge_chains)["edge:relu->add"] == (1,)


@pytest.mark.parametrize("is_qat", [False, True])
def test_xnnpack_groups_cover_every_observer(is_qat):
    p = prepared_case("xnnpack", is_qat)
    c = canonical_form(p.original, p.prepared)
    keys = set(annotated_keys(p.original))
    assert c.observed_keys() | set(c.unobserved) == keys
    assert not c.observed_keys() & set(c.unobserved)
    # every observer instance in the graph observes some annotated key
    assert len(c.groups) == c.structure.observer_modules == len(
        {id(p.prepared.get_submodule(n.target)) for n in _observers(p.prepared)}
    )
    w = c.group_of("edge:conv_weight->conv2d").observer
    assert (w.qscheme, w.ch_axis, w.quant_min) == ("torch.per_channel_symmetric", 0, -127)
    act = c.group_of("out:relu").observer
    if is_qat:
        assert act.cls.endswith("FusedMovingAvgObsFakeQuantize")
        assert act.inner.endswith("MovingAverageMinMaxObserver")
    else:
        assert act.cls.endswith("HistogramObserver") and act.inner is None
    # adaptive_avg_pool2d shares relu's observer (SharedQuantizationSpec on input and output)
    assert c.group_of("out:adaptive_avg_pool2d").keys == c.group_of("out:relu").keys


# ---- implementation independence --------------------------------------------------------------


def test_independent_prepares_give_equal_json():
    a, b = prepared_case("xnnpack"), prepared_case("xnnpack")
    ja = canonical_form(a.original, a.prepared).to_json()
    jb = canonical_form(b.original, b.prepared).to_json()
    assert json.dumps(ja, sort_keys=True) == json.dumps(jb, sort_keys=True)


def test_observer_module_names_do_not_matter():
    p = prepared_case("relu_add")
    before = canonical_form(p.original, p.prepared)
    renamed = {}
    for i, n in enumerate(_observers(p.prepared)):
        mod = p.prepared.get_submodule(n.target)
        new = renamed.setdefault(id(mod), f"zz_observer_{len(renamed)}")
        p.prepared.add_submodule(new, mod)
        n.target = new
    after = canonical_form(p.original, p.prepared)
    assert after == before


def test_original_mutated_in_place_by_prepare_reads_the_same():
    p = prepared_case("cat")
    model = annotated("cat")
    prepared = prepare(model, {}, False)  # mutates model's graph in place
    assert canonical_form(model, prepared) == canonical_form(p.original, p.prepared)


def test_annotation_keys_of_a_graph_copy_are_read_by_name():
    # copy.deepcopy keeps annotations pointing at the source graph's nodes; names still match
    p = prepared_case("relu_add")
    stale = copy.deepcopy(annotated("relu_add"))
    assert canonical_form(stale, p.prepared) == canonical_form(p.original, p.prepared)


# ---- json --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_round_trip(name):
    p = prepared_case(name)
    c = canonical_form(p.original, p.prepared)
    data = json.loads(json.dumps(c.to_json()))
    assert data == c.to_json()
    assert Canonical.from_json(data) == c
    assert list(data) == sorted(data)
    for g in data["groups"]:
        assert list(g["observer"]) == sorted(g["observer"])


def test_from_json_names_the_bad_field():
    p = prepared_case("relu_add")
    data = canonical_form(p.original, p.prepared).to_json()
    bad = json.loads(json.dumps(data))
    bad["groups"][1]["keys"] = ["x->relu"]
    with pytest.raises(CanonicalFormatError, match="not a key string"):
        Canonical.from_json(bad)
    bad = json.loads(json.dumps(data))
    bad["groups"][0]["observer"]["colour"] = "red"
    with pytest.raises(CanonicalFormatError, match=r"groups\[0\].observer: unknown field"):
        Canonical.from_json(bad)
    with pytest.raises(CanonicalFormatError, match="canonical: unknown field"):
        Canonical.from_json({**data, "extra": 1})


def test_canonical_error():
    try:
        raise AssertionError("please make sure only refer to edge or node\nsecond line " + "x" * 300)
    except AssertionError as e:
        c = canonical_error(e)
    assert c.error.type == "AssertionError"
    assert c.error.message == "please make sure only refer to edge or node"
    assert c.groups == () and c.unobserved == ()
    assert Canonical.from_json(json.loads(json.dumps(c.to_json()))) == c
    long = canonical_error(ValueError("y" * 500))
    assert len(long.error.message) == 200 and long.error.message.endswith("...")


def test_bad_inputs_raise_typed_errors():
    p = prepared_case("relu_add")
    with pytest.raises(TypeError, match="original must be a torch.fx.GraphModule"):
        canonical_form(torch.nn.ReLU(), p.prepared)
    with pytest.raises(TypeError, match="prepared must be a torch.fx.GraphModule"):
        canonical_form(p.original, torch.nn.ReLU())
    gm = annotated("relu_add")
    next(n for n in gm.graph.nodes if n.name == "relu").meta["quantization_annotation"] = {"x": 1}
    with pytest.raises(TypeError, match="node 'relu'.*not a QuantizationAnnotation"):
        canonical_form(gm, p.prepared)


def test_missing_nodes_are_recorded():
    p = prepared_case("chain")
    # drop mul from the prepared graph (the output returns relu's observer instead)
    mul = next(n for n in p.prepared.graph.nodes if n.name == "mul")
    out = next(n for n in p.prepared.graph.nodes if n.op == "output")
    out.args = ((out.args[0][0], obs_node(p.prepared, "relu")),)
    p.prepared.graph.erase_node(mul)
    c = canonical_form(p.original, p.prepared)
    assert c.structure.missing_nodes == ()  # mul is not annotated: not a key endpoint
    original = annotated("chain")
    mul_o = next(n for n in original.graph.nodes if n.name == "mul")
    mul_o.meta["quantization_annotation"] = QuantizationAnnotation(output_qspec=annotated_keys(original)["out:relu"])
    c = canonical_form(original, p.prepared)
    assert c.structure.missing_nodes == ("mul",)
    assert "out:mul" in c.unobserved
