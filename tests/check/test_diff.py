"""Tests of harness.check.compare (classification of divergences between canonical forms) and
harness.check.numerics (outputs of the converted models)."""

from __future__ import annotations

import copy

import pytest
import torch

from harness.check.canonical import canonical_error, canonical_form
from harness.check.compare import KINDS, Divergence, compare, divergence_signature
from harness.check.numerics import compare_numerics
from harness.check.observer_map import locate_observers
from prepared_models import obs_node, prepared_case
from torchao.quantization.pt2e.observer import MinMaxObserver


def _form(p):
    return canonical_form(p.original, p.prepared)


def _node_of(p, key):
    return locate_observers(p.original, p.prepared).key_node[key]


def _module_of(p, key):
    return p.prepared.get_submodule(_node_of(p, key).target)


def _kinds(divs):
    return [d.kind for d in divs]


def test_identical_forms_have_no_divergence():
    a, b = prepared_case("xnnpack"), prepared_case("xnnpack")
    assert compare(_form(a), _form(b)) == []
    assert divergence_signature([]) == "none"


def test_merged_groups_are_a_partition_divergence_naming_the_keys():
    ref, cand = prepared_case("relu_add"), prepared_case("relu_add")
    # the candidate observes add's output with relu's output observer instance
    _node_of(cand, "out:add").target = _node_of(cand, "out:relu").target
    divs = compare(_form(ref), _form(cand))
    assert _kinds(divs) == ["partition"]  # same nodes and chains; the instance count follows from it
    assert divs[0].detail == "separate in expected, shared in actual: edge:relu->add ~ out:add"
    assert divs[0].shape == "merged:edge~out"


def test_split_group_is_a_partition_divergence():
    ref, cand = prepared_case("relu_add"), prepared_case("relu_add")
    # y's edge shares relu's output observer through a second node; give that node its own copy
    y_obs = obs_node(cand.prepared, "y")
    cand.prepared.add_submodule("copied_observer", copy.deepcopy(cand.prepared.get_submodule(y_obs.target)))
    y_obs.target = "copied_observer"
    divs = compare(_form(ref), _form(cand))
    assert _kinds(divs) == ["partition"]  # same node count; module count is implied by the partition
    assert divs[0].detail == "shared in expected, separate in actual: edge:relu->add ~ edge:y->add"
    # and the other way round
    back = compare(_form(cand), _form(ref))
    assert back[0].detail == "separate in expected, shared in actual: edge:relu->add ~ edge:y->add"


def test_config_divergence_names_group_and_fields():
    ref, cand = prepared_case("relu_add"), prepared_case("relu_add")
    mod = _module_of(cand, "out:relu")
    mod.quant_min = -127
    mod.dtype = torch.qint8
    divs = compare(_form(ref), _form(cand))
    assert _kinds(divs) == ["observer_config"]
    assert divs[0].detail == "group edge:relu->add (+2): dtype int8 vs qint8, quant_min -128 vs -127"
    assert divs[0].shape == "dtype,quant_min"


def test_observer_class_divergence():
    ref, cand = prepared_case("chain"), prepared_case("chain")
    node = _node_of(cand, "out:relu")
    old = cand.prepared.get_submodule(node.target)
    new = MinMaxObserver(dtype=old.dtype, quant_min=old.quant_min, quant_max=old.quant_max, qscheme=old.qscheme)
    new.__class__ = type("OtherObserver", (MinMaxObserver,), {})
    cand.prepared.add_submodule(node.target, new)
    divs = compare(_form(ref), _form(cand))
    assert _kinds(divs) == ["observer_config"]
    assert divs[0].detail == "group out:relu: cls MinMaxObserver vs OtherObserver"


def test_missing_observer_is_unobserved_and_structure():
    ref, cand = prepared_case("relu_add"), prepared_case("relu_add")
    n = _node_of(cand, "edge:x->relu")
    n.replace_all_uses_with(n.args[0])
    cand.prepared.graph.erase_node(n)
    divs = compare(_form(ref), _form(cand))
    assert _kinds(divs) == ["unobserved", "structure"]
    assert divs[0].detail == "observed only in expected: edge:x->relu"
    assert divs[0].shape == "-edge"
    assert "edge:x->relu [1] vs [0]" in divs[1].detail and "observer nodes 4 vs 3" in divs[1].detail
    assert divs[1].shape == "chains,attached,nodes"


def test_extra_observer_on_unannotated_edge_is_structure_only():
    ref, cand = prepared_case("relu_add"), prepared_case("relu_add")
    g = cand.prepared.graph
    mul = next(n for n in g.nodes if n.name == "mul")
    cand.prepared.add_submodule("extra_obs", MinMaxObserver())
    with g.inserting_after(mul):
        extra = g.call_module("extra_obs", (mul,))
    mul.replace_all_uses_with(extra, delete_user_cb=lambda u: u is not extra)
    divs = compare(_form(ref), _form(cand))
    assert _kinds(divs) == ["structure"]
    assert "edge:mul->output [] vs [1]" in divs[0].detail
    assert "observer instances 3 vs 4" in divs[0].detail


def test_crash_classification():
    ok = _form(prepared_case("cat"))
    boom = canonical_error(AssertionError("no observer for edge"))
    other = canonical_error(ValueError("cycle"))
    same_type = canonical_error(AssertionError("different words"))
    assert _kinds(compare(ok, boom)) == ["crash_only_actual"]
    assert _kinds(compare(boom, ok)) == ["crash_only_expected"]
    assert _kinds(compare(boom, other)) == ["different_error"]
    assert compare(boom, other)[0].detail == "reference raised AssertionError, candidate ValueError: cycle"
    assert compare(boom, same_type) == []
    assert divergence_signature(compare(boom, other)) == "different_error[AssertionError!=ValueError]"


def test_signature_is_name_free_and_order_free():
    # the same kind of mutation on two different models gives the same signature
    sigs = []
    for name, key in (("relu_add", "out:add"), ("chain", "edge:relu->add")):
        ref, cand = prepared_case(name), prepared_case(name)
        _module_of(cand, key).quant_max = 100
        sigs.append(divergence_signature(compare(_form(ref), _form(cand))))
    assert sigs[0] == sigs[1] == "observer_config[quant_max]"
    a = Divergence("structure", "x", "nodes")
    b = Divergence("unobserved", "y", "-out")
    assert divergence_signature([a, b]) == divergence_signature([b, a]) == "structure[nodes];unobserved[-out]"


def test_divergence_kind_is_validated():
    with pytest.raises(ValueError, match="unknown divergence kind 'oops'"):
        Divergence("oops", "")
    assert "numerics" in KINDS and "convert_failed" in KINDS


# ---- numerics ----------------------------------------------------------------------------------


def test_numerics_equal_for_equal_prepares():
    a, b = prepared_case("relu_add"), prepared_case("relu_add")
    assert compare_numerics(a.prepared, b.prepared, a.example_inputs) == []


def test_numerics_report_max_abs_diff():
    ref, cand = prepared_case("relu_add"), prepared_case("relu_add")
    mod = _module_of(cand, "out:add")
    mod.quant_min, mod.quant_max = -2, 2  # a very coarse output quantization
    divs = compare_numerics(ref.prepared, cand.prepared, ref.example_inputs)
    assert _kinds(divs) == ["numerics"]
    assert divs[0].detail.startswith("converted outputs differ: max abs diff ")
    assert "(output 0)" in divs[0].detail
    # the prepared models themselves were not calibrated or converted
    assert not any(n.op == "call_function" and "quantize" in str(n.target) for n in cand.prepared.graph.nodes)
    assert torch.isinf(_module_of(ref, "out:add").min_val)


class _BrokenObserver(MinMaxObserver):
    def calculate_qparams(self):
        raise RuntimeError("cannot compute qparams")


def test_convert_failed_on_one_side():
    ref, cand = prepared_case("chain"), prepared_case("chain")
    node = _node_of(cand, "out:relu")
    cand.prepared.add_submodule(node.target, _BrokenObserver(dtype=torch.int8, quant_min=-128, quant_max=127))
    divs = compare_numerics(ref.prepared, cand.prepared, ref.example_inputs)
    assert divs == [
        Divergence("convert_failed", "candidate: RuntimeError: cannot compute qparams", "candidate:RuntimeError")
    ]
    assert compare_numerics(cand.prepared, cand.prepared, ref.example_inputs) == []  # both fail: not here


@pytest.mark.parametrize("name", ["conv_derived", "fixed"])
def test_numerics_on_derived_and_fixed_models(name):
    a, b = prepared_case(name), prepared_case(name)
    assert compare_numerics(a.prepared, b.prepared, a.example_inputs) == []
