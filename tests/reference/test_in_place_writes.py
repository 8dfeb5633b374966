"""The reference's edge observers observe the value as the consumer reads it, after the in-place writes that come
before the consumer (issue 15): torch.export's graphs keep in-place ops (``relu_`` on a view of an activation whose
base is read later), and an observer put right after the producer would observe, and after ``convert_pt2e`` hand the
consumer, a snapshot from before the write. torchao does put it there (the upstream tests below pin that)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchao.quantization.pt2e.prepare import prepare as upstream_prepare
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

import prepare_impl
from annotate_by_hand import INT8, annotate, export, nodes, observers_by_key

X = torch.randn(2, 8, generator=torch.Generator().manual_seed(0))


def _write_through_a_view(a):
    y = F.layer_norm(a.relu(), [8])
    y.view(16).relu_()  # the storage of layer_norm's value is written: sigmoid reads the rectified values
    return torch.sigmoid(y)


def _read_before_and_after_a_write(a):
    y = F.layer_norm(a, [8])
    s = torch.sigmoid(y)  # reads y before the write
    y.view(16).relu_()
    return s, torch.tanh(y)  # tanh reads y after it


def _write_to_the_base_of_a_view(a):
    y = F.layer_norm(a, [8])
    v = y.view(16)
    y.view(16).relu_()  # writes the storage v shares
    return torch.sigmoid(v)


def _annotated(fn, consumers):
    gm = export(fn, X)
    n = nodes(gm)
    for name in consumers:
        annotate(n[name], {n[name].args[0]: INT8})
    return gm


def _position(prepared):
    return {n: i for i, n in enumerate(prepared.graph.nodes)}


def _observer_read_by(prepared, consumer):
    return nodes(prepared)[consumer].args[0]


def test_an_edge_observer_comes_after_a_write_to_the_value_it_observes():
    prepared = prepare_impl.prepare(_annotated(_write_through_a_view, ["sigmoid"]), {}, False)
    obs = _observer_read_by(prepared, "sigmoid")
    assert obs.op == "call_module" and obs.args[0].name == "layer_norm"
    pos = _position(prepared)
    assert pos[nodes(prepared)["relu_"]] < pos[obs] < pos[nodes(prepared)["sigmoid"]]
    prepared(X.clone())
    assert float(prepared.get_submodule(obs.target).min_val) == 0.0  # it saw the rectified values


def test_the_converted_model_computes_the_original_up_to_quantization():
    original = _annotated(_write_through_a_view, [])
    want = original(X.clone())[0]
    prepared = prepare_impl.prepare(_annotated(_write_through_a_view, ["sigmoid"]), {}, False)
    prepared(X.clone())
    got = convert_pt2e(prepared)(X.clone())[0]
    assert (got - want).abs().max() < 0.01  # one int8 step of [0, max] through sigmoid


def test_without_a_write_in_between_the_observer_stays_right_after_the_producer():
    prepared = prepare_impl.prepare(_annotated(lambda a: torch.sigmoid(F.layer_norm(a, [8])), ["sigmoid"]), {},
                                    False)
    obs = _observer_read_by(prepared, "sigmoid")
    assert obs.prev is obs.args[0]  # torchao's layout


def test_consumers_on_either_side_of_a_write_read_one_instance_through_two_nodes():
    prepared = prepare_impl.prepare(_annotated(_read_before_and_after_a_write, ["sigmoid", "tanh"]), {}, False)
    before, after = _observer_read_by(prepared, "sigmoid"), _observer_read_by(prepared, "tanh")
    assert before is not after
    assert prepared.get_submodule(before.target) is prepared.get_submodule(after.target)  # one sharing group
    pos = _position(prepared)
    assert pos[before] < pos[nodes(prepared)["relu_"]] < pos[after]
    prepared(X.clone())
    convert_pt2e(prepared)(X.clone())  # convert accepts two observer nodes of one instance


def test_a_write_to_the_base_makes_a_view_read_later_stale_too():
    prepared = prepare_impl.prepare(_annotated(_write_to_the_base_of_a_view, ["sigmoid"]), {}, False)
    obs = _observer_read_by(prepared, "sigmoid")
    assert obs.args[0].name == "view"
    pos = _position(prepared)
    assert pos[nodes(prepared)["relu_"]] < pos[obs]


def test_a_consumer_writing_its_observed_input_reads_the_observer_put_after_the_producer():
    """The consumer's own write comes after it reads its inputs: the observer stays where torchao puts it."""
    def write_own_input(a):
        y = a.relu()
        y.mul_(y)
        return y

    prepared = prepare_impl.prepare(_annotated(write_own_input, ["mul_"]), {}, False)
    obs = _observer_read_by(prepared, "mul_")
    assert obs.prev.name == "relu" and len(observers_by_key(prepared)) == 1


# ---- upstream -------------------------------------------------------------------------------------------------


def test_upstream_observes_the_value_before_the_write():
    """torchao inserts every edge observer right after the producer (``_insert_obs_or_fq`` inserts after the
    argument node): it calibrates on the value before ``relu_`` and the converted sigmoid reads that snapshot."""
    prepared = upstream_prepare(_annotated(_write_through_a_view, ["sigmoid"]), {}, False)
    obs = _observer_read_by(prepared, "sigmoid")
    assert obs.prev.name == "layer_norm"
    prepared(X.clone())
    assert float(prepared.get_submodule(obs.target).min_val) < 0.0
    want = _annotated(_write_through_a_view, [])(X.clone())[0]
    got = convert_pt2e(prepared)(X.clone())[0]
    assert (got - want).abs().max() > 0.05
