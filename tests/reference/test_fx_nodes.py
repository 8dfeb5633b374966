"""prepare_impl.fx_nodes: a call node made without create_node's argument scan is the node create_node makes."""

from __future__ import annotations

import operator

import torch
from torch.fx import Graph

from prepare_impl.fx_nodes import create_call


def _graph(make):
    graph = Graph()
    x = graph.placeholder("x")
    y = graph.placeholder("y")
    relu = make(graph, "call_function", torch.ops.aten.relu.default, (x,), None, None)
    with graph.inserting_before(relu):  # an insertion point inside the graph, as an observer's
        add = make(graph, "call_function", torch.ops.aten.add.Tensor, (x, [y, 2]), {"alpha": y}, "add")
    cat = make(graph, "call_function", torch.ops.aten.cat.default, ([add, relu],), None, None)
    obs = make(graph, "call_module", "obs", (cat,), None, None)
    graph.output((obs, getattr(operator, "getitem")))
    return graph


def _shape(graph):
    return [(n.op, n.name, str(n.target), str(n.args), str(n.kwargs), sorted(u.name for u in n.users),
             sorted(i.name for i in n.all_input_nodes)) for n in graph.nodes]


def test_the_same_nodes_users_and_order_as_create_node():
    def plain(graph, op, target, args, kwargs, name):
        return graph.create_node(op, target, args, kwargs, name=name)

    assert _shape(_graph(create_call)) == _shape(_graph(plain))
    graph = _graph(create_call)
    graph.lint()
    assert [n.name for n in graph.nodes][:4] == ["x", "y", "add", "relu_default"]
    assert {u.name for u in graph.find_nodes(op="placeholder", target="y")[0].users} == {"add"}
