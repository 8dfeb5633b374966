"""The reference prepare on hand-annotated graphs: sharing, spec kinds and the rules of each (its typed errors and
where upstream fails are tests/reference/test_prepare_impl_errors.py)."""

from __future__ import annotations

import copy
import sys

import pytest
import torch
from torchao.quantization.pt2e import DerivedObserverOrFakeQuantize
from torchao.quantization.pt2e.fake_quantize import FixedQParamsFakeQuantize
from torchao.quantization.pt2e.observer import FixedQParamsObserver, MinMaxObserver
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e
from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

import prepare_impl
from annotate_by_hand import (
    FIXED_SIGMOID,
    INT8,
    INT8_HIST,
    UINT8,
    WEIGHT_PC,
    annotate,
    derived_bias,
    export,
    nodes,
    observers_by_key,
)
from prepared_by_hand import ConvBias, X, _module_read_by, _prepare, cat_graph


def _observer_of_output(prepared, name):
    (user,) = [u for u in nodes(prepared)[name].users if u.op == "call_module"]
    return prepared.get_submodule(user.target)


# ---- implicit and explicit sharing ---------------------------------------------------------------------


def test_output_and_input_edge_with_equal_specs_share_one_observer():
    gm = export(lambda a: torch.relu(a) + 1, X)
    n = nodes(gm)
    annotate(n["relu"], {n["a"]: INT8}, INT8)
    annotate(n["add"], {n["relu"]: INT8}, INT8)
    analysis = prepare_impl.sharing_groups(gm)
    assert analysis.group_of[n["relu"]] == analysis.group_of[(n["relu"], n["add"])]
    prepared = _prepare(gm)
    assert _observer_of_output(prepared, "relu") is _module_read_by(prepared, "add")
    assert len(observers_by_key(prepared)) == 3  # a->relu, relu (shared with relu->add), add


def test_different_specs_are_not_implicitly_shared():
    gm = export(lambda a: torch.relu(a) + 1, X)
    n = nodes(gm)
    annotate(n["relu"], {}, INT8)
    annotate(n["add"], {n["relu"]: UINT8})
    analysis = prepare_impl.sharing_groups(gm)
    assert analysis.group_of[n["relu"]] != analysis.group_of[(n["relu"], n["add"])]
    prepared = _prepare(gm)
    # relu -> obs(int8) -> obs(uint8) -> add
    reader = nodes(prepared)["add"].args[0]
    assert reader.op == "call_module" and reader.args[0].op == "call_module"


def test_observer_class_is_not_part_of_compatibility_and_first_concrete_spec_wins():
    gm = export(lambda a: torch.relu(a) + 1, X)
    n = nodes(gm)
    annotate(n["relu"], {}, INT8_HIST)
    annotate(n["add"], {n["relu"]: INT8})
    group = prepare_impl.sharing_groups(gm).group(n["relu"])
    assert group.spec is INT8_HIST and len(group.members) == 2


def test_allow_implicit_sharing_false_keeps_the_edge_apart():
    gm = export(lambda a: torch.relu(a) + 1, X)
    n = nodes(gm)
    annotate(n["relu"], {}, INT8)
    annotate(n["add"], {n["relu"]: INT8}, allow_implicit_sharing=False)
    analysis = prepare_impl.sharing_groups(gm)
    assert analysis.group_of[n["relu"]] != analysis.group_of[(n["relu"], n["add"])]


def test_sibling_edges_share_when_one_consumer_allows():
    gm = export(lambda a: torch.relu(a) + torch.sigmoid(a), X)
    n = nodes(gm)
    annotate(n["relu"], {n["a"]: INT8}, allow_implicit_sharing=False)
    annotate(n["sigmoid"], {n["a"]: INT8})
    analysis = prepare_impl.sharing_groups(gm)
    assert analysis.group_of[(n["a"], n["relu"])] == analysis.group_of[(n["a"], n["sigmoid"])]
    prepared = _prepare(gm)
    assert _module_read_by(prepared, "relu") is _module_read_by(prepared, "sigmoid")
    assert nodes(prepared)["relu"].args[0] is nodes(prepared)["sigmoid"].args[0]  # one observer node


def test_shared_cat_is_one_group_with_its_inputs_and_output():
    gm = cat_graph()
    n = nodes(gm)
    first = (n["relu"], n["cat"])
    annotate(n["relu"], {}, INT8)
    annotate(n["sigmoid"], {}, INT8)
    annotate(n["cat"], {n["relu"]: INT8, n["sigmoid"]: SharedQuantizationSpec(first)}, SharedQuantizationSpec(first))
    analysis = prepare_impl.sharing_groups(gm)
    group = analysis.group(n["cat"])
    assert set(group.members) == {n["relu"], n["sigmoid"], first, (n["sigmoid"], n["cat"]), n["cat"]}
    prepared = _prepare(gm)
    instances = {id(m) for _, _, m in observers_by_key(prepared).values()}
    assert len(instances) == 1 and len(observers_by_key(prepared)) == 3  # relu, sigmoid, cat outputs


def test_same_node_twice_is_one_edge_observed_once():
    gm = export(lambda a: torch.cat([a, a], 1), X)
    n = nodes(gm)
    annotate(n["cat"], {n["a"]: INT8}, INT8)
    prepared = _prepare(gm)
    cat = nodes(prepared)["cat"]
    (first, second), _ = cat.args
    assert first is second and first.op == "call_module"


# ---- spec kinds ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("per_channel", [False, True])
def test_derived_bias_reads_the_activation_and_weight_observers(per_channel):
    gm = export(ConvBias(), X)
    n = nodes(gm)
    conv = n["conv2d"]
    x, w, b = conv.args
    weight_spec = WEIGHT_PC if per_channel else INT8
    annotate(conv, {x: INT8, w: weight_spec, b: derived_bias((x, conv), (w, conv), per_channel)}, INT8)
    prepared = _prepare(gm)
    pconv = nodes(prepared)["conv2d"]
    act_obs, w_obs, b_obs = (prepared.get_submodule(a.target) for a in pconv.args)
    assert isinstance(b_obs, DerivedObserverOrFakeQuantize)
    assert b_obs.obs_or_fqs[0] is act_obs and b_obs.obs_or_fqs[1] is w_obs
    prepared(X)
    converted = convert_pt2e(prepared)
    assert converted(X).shape == (1, 4, 6, 6)


def test_derived_spec_anchored_later_in_graph_order_is_created_after_its_sources():
    gm = export(lambda a: torch.relu(a) + torch.sigmoid(a), X)
    n = nodes(gm)
    # relu's output derives from sigmoid's output, which comes later in annotation order
    annotate(n["relu"], {}, derived_bias(n["sigmoid"], (n["a"], n["sigmoid"])))
    annotate(n["sigmoid"], {n["a"]: INT8}, INT8)
    prepared = _prepare(gm)
    derived = _observer_of_output(prepared, "relu")
    assert derived.obs_or_fqs == [_observer_of_output(prepared, "sigmoid"), _module_read_by(prepared, "sigmoid")]


@pytest.mark.parametrize("is_qat", [False, True])
def test_fixed_qparams_is_an_observer_in_ptq_and_a_fake_quant_in_qat(is_qat):
    gm = export(lambda a: torch.sigmoid(a), X)
    n = nodes(gm)
    annotate(n["sigmoid"], {n["a"]: INT8}, FIXED_SIGMOID)
    prepared = _prepare(gm, is_qat=is_qat)
    obs = _observer_of_output(prepared, "sigmoid")
    assert type(obs) is (FixedQParamsFakeQuantize if is_qat else FixedQParamsObserver)
    scale, zero_point = obs.calculate_qparams()
    assert float(scale) == pytest.approx(1 / 256) and int(zero_point) == 0


def test_per_channel_observer_gets_ch_axis_and_per_tensor_does_not():
    gm = export(ConvBias(), X)
    n = nodes(gm)
    conv = n["conv2d"]
    x, w, _ = conv.args
    annotate(conv, {x: INT8, w: WEIGHT_PC})
    prepared = _prepare(gm)
    _, w_obs = (prepared.get_submodule(a.target) for a in nodes(prepared)["conv2d"].args[:2])
    assert w_obs.ch_axis == 0 and w_obs.qscheme == torch.per_channel_symmetric


def test_split_output_is_not_observed_but_its_getitems_are():
    gm = export(lambda a: torch.split(a, 4, 2)[1] * 2, X)
    n = nodes(gm)
    annotate(n["split"], {n["a"]: INT8}, INT8)
    annotate(n["getitem"], {}, INT8)
    prepared = _prepare(gm)
    readers = [u for u in nodes(prepared)["split"].users]
    assert all(u.op != "call_module" for u in readers)
    assert any(u.op == "call_module" for u in nodes(prepared)["getitem"].users)


class BufferWrite(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("state", torch.zeros(1, 3, 8, 8))

    def forward(self, x):
        self.state.copy_(x)
        return x + self.state


def test_in_place_write_to_a_buffer_is_not_observed():
    gm = export(BufferWrite(), X)
    copies = [m for m in gm.graph.nodes if m.target == torch.ops.aten.copy_.default]
    assert copies, gm.graph
    copy_ = copies[0]
    dst, src = copy_.args
    annotate(copy_, {dst: INT8, src: INT8})
    prepared = _prepare(gm)
    pcopy = nodes(prepared)[copy_.name]
    assert pcopy.args[0].op == "get_attr" and pcopy.args[1].op == "call_module"


def test_numeric_debug_provenance_is_copied_to_output_observers():
    gm = export(lambda a: torch.relu(a), X)
    n = nodes(gm)
    assert "from_node" in n["relu"].meta
    annotate(n["relu"], {}, INT8)
    prepared = _prepare(gm)
    (obs,) = [u for u in nodes(prepared)["relu"].users if u.op == "call_module"]
    assert obs.meta["from_node"] == n["relu"].meta["from_node"]


def test_callback_sees_every_key_and_its_edits_are_honoured():
    gm = export(lambda a: torch.relu(a) + 1, X)
    n = nodes(gm)
    annotate(n["relu"], {n["a"]: INT8}, INT8)
    seen = {}
    replacement = MinMaxObserver(dtype=torch.quint8)

    def callback(model, mapping):
        seen.update(mapping)
        mapping[(n["a"], n["relu"])] = replacement

    prepared = _prepare(gm, obs_or_fq_callback=callback)
    assert set(seen) == {(n["a"], n["relu"]), n["relu"]}
    assert _module_read_by(prepared, "relu") is replacement


def test_prepared_model_records_the_state_convert_needs():
    gm = export(lambda a: torch.relu(a), X)
    annotate(nodes(gm)["relu"], {}, INT8)
    for is_qat in (False, True):
        prepared = _prepare(copy.deepcopy(gm), is_qat=is_qat)
        assert prepared.meta["_observed_graph_module_attrs"].is_qat is is_qat


def test_sharing_groups_does_not_touch_the_graph():
    gm = cat_graph()
    n = nodes(gm)
    annotate(n["cat"], {n["relu"]: INT8, n["sigmoid"]: SharedQuantizationSpec((n["relu"], n["cat"]))}, INT8)
    before = str(gm.graph)
    prepare_impl.sharing_groups(gm)
    assert str(gm.graph) == before


def test_an_analysis_given_is_used_instead_of_a_second_one(monkeypatch):
    """``prepare(..., analysis=sharing_groups(model))`` prepares as without it, and does not analyse again (the
    differential check analyses first, then prepares the same model)."""
    def annotated():
        gm = cat_graph()
        n = nodes(gm)
        annotate(n["cat"], {n["relu"]: INT8, n["sigmoid"]: SharedQuantizationSpec((n["relu"], n["cat"]))}, INT8)
        annotate(n["relu"], {n["a"]: UINT8}, INT8)
        return gm

    expected = str(_prepare(annotated()).graph)
    gm = annotated()
    analysis = prepare_impl.sharing_groups(gm)
    monkeypatch.setattr(sys.modules["prepare_impl.prepare"], "sharing_groups", None)  # a second one would raise
    prepared = _prepare(gm, analysis=analysis)
    assert str(prepared.graph) == expected
    assert len({id(m[2]) for m in observers_by_key(prepared).values()}) == len(analysis.groups)

