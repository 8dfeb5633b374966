"""harness.fx.specs: one table converts case specs to torchao specs and back."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torchao.quantization.pt2e.quantizer import FixedQParamsQuantizationSpec, QuantizationSpec

from harness import case as C
from harness.fx import specs

OBS = "torchao.quantization.pt2e.observer."
ACT = C.QSpec("int8", C.Ctor(OBS + "HistogramObserver", (("eps", 2**-12),)), -128, 127, "per_tensor_affine")
WEIGHT = C.QSpec("int8", C.Ctor(OBS + "PerChannelMinMaxObserver"), -127, 127, "per_channel_symmetric", ch_axis=1)
DYNAMIC = C.QSpec("int8", C.Ctor(OBS + "PlaceholderObserver"), is_dynamic=True)
SHARED_NODE = C.SharedSpec(C.NodeRef("a"))
SHARED_EDGE = C.SharedSpec(C.EdgeRef("a", "b"))
DERIVED = C.DerivedSpec((C.EdgeRef("a", "b"), C.NodeRef("b")), "harness.derive.bias_qparams_per_tensor", "int32",
                        -(2**31), 2**31 - 1, "per_tensor_symmetric")
FIXED = C.FixedSpec("uint8", 1.0 / 256, 0, 0, 255, "per_tensor_affine")


def _nodes() -> dict[str, torch.fx.Node]:
    graph = torch.fx.Graph()
    a = graph.placeholder("a")
    b = graph.call_function(torch.relu, (a,))
    b.name = "b"
    graph.output(b)
    return {n.name: n for n in graph.nodes}


def test_the_table_covers_every_field_of_both_sides():
    for kind in specs.SPEC_KINDS:
        assert sorted(f.case for f in kind.fields) == sorted(f.name for f in dataclasses.fields(kind.case_type))
        assert sorted(f.torchao for f in kind.fields) == sorted(f.name for f in dataclasses.fields(kind.torchao_type))
    assert {k.case_type for k in specs.SPEC_KINDS} == {C.QSpec, C.SharedSpec, C.DerivedSpec, C.FixedSpec}


@pytest.mark.parametrize("spec", [ACT, WEIGHT, DYNAMIC, SHARED_NODE, SHARED_EDGE, DERIVED, FIXED, None])
def test_round_trip(spec):
    nodes = _nodes()
    torchao_spec = specs.to_torchao(spec, nodes)
    assert specs.to_case(torchao_spec, nodes) == spec


def test_torchao_side_holds_torch_objects_and_nodes():
    nodes = _nodes()
    weight = specs.to_torchao(WEIGHT, nodes)
    assert isinstance(weight, QuantizationSpec) and weight.dtype == torch.int8
    assert weight.qscheme == torch.per_channel_symmetric and weight.ch_axis == 1
    assert specs.to_torchao(SHARED_EDGE, nodes).edge_or_node == (nodes["a"], nodes["b"])
    assert specs.to_torchao(DERIVED, nodes).derived_from == [(nodes["a"], nodes["b"]), nodes["b"]]


@pytest.mark.parametrize(
    "spec,match",
    [
        ("int8", r"^here: not a spec: str$"),
        (C.SharedSpec(C.NodeRef("ghost")), r"^here: unknown node 'ghost'$"),
        (dataclasses.replace(DERIVED, derived_from=(C.NodeRef("a"), C.NodeRef("ghost"))),
         r"^here: derived_from\[1\]: unknown node 'ghost'$"),
        (dataclasses.replace(ACT, dtype="int9"), r"^here: unknown dtype 'int9'$"),
        (dataclasses.replace(ACT, quant_min=5, quant_max=1), r"^here: .*quant_min"),
    ],
)
def test_to_torchao_errors_say_where(spec, match):
    with pytest.raises(specs.SpecError, match=match):
        specs.to_torchao(spec, _nodes(), "here")


def test_to_case_errors_say_where():
    nodes = _nodes()
    with pytest.raises(specs.SpecError, match=r"^here: unsupported spec type object$"):
        specs.to_case(object(), nodes, "here")
    stranger = _nodes()["a"]
    with pytest.raises(specs.SpecError, match=r"^here: refers to a, which is not a node of this graph$"):
        specs.to_case(specs.to_torchao(SHARED_NODE, {"a": stranger}), nodes, "here")
    fixed = FixedQParamsQuantizationSpec(dtype=torch.uint8, scale=math.inf, zero_point=0)
    with pytest.raises(specs.SpecError, match=r"^here: scale inf is not finite$"):
        specs.to_case(fixed, nodes, "here")
    odd = dataclasses.replace(specs.to_torchao(ACT, nodes), quant_min=1.5)
    with pytest.raises(specs.SpecError, match=r"^here: quant_min must be an int, got 1.5$"):
        specs.to_case(odd, nodes, "here")
