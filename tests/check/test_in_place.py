"""Tests of harness.check.in_place: which input edges are read after an in-place write to their value."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from annotate_by_hand import export, nodes
from harness.check.in_place import edges_read_after_a_write

X = torch.randn(2, 8)


def _names(found):
    return [(a.name, n.name) for a, n in found]


def _edges(gm, *pairs):
    n = nodes(gm)
    return [(n[a], n[b]) for a, b in pairs]


def test_a_write_through_a_view_between_producer_and_consumer():
    def fn(a):
        y = F.layer_norm(a, [8])
        s = torch.sigmoid(y)
        y.view(16).relu_()
        return s, torch.tanh(y)

    gm = export(fn, X)
    edges = _edges(gm, ("layer_norm", "sigmoid"), ("layer_norm", "tanh"))
    assert _names(edges_read_after_a_write(gm, edges)) == [("layer_norm", "tanh")]


def test_a_write_to_the_base_reaches_a_view_taken_before_it():
    def fn(a):
        y = F.layer_norm(a, [8])
        v = y.view(16)
        y.view(16).relu_()
        return torch.sigmoid(v)

    gm = export(fn, X)
    assert _names(edges_read_after_a_write(gm, _edges(gm, ("view", "sigmoid")))) == [("view", "sigmoid")]


def test_the_consumers_own_write_and_writes_to_other_values_do_not_count():
    def fn(a):
        y = a.relu()
        z = a.sigmoid()
        z.mul_(z)
        y.mul_(y)
        return y, z

    gm = export(fn, X)
    muls = [n.name for n in gm.graph.nodes if n.target == torch.ops.aten.mul_.Tensor]
    edges = _edges(gm, ("relu", muls[1]), ("sigmoid", muls[0]))
    assert edges_read_after_a_write(gm, edges) == []
