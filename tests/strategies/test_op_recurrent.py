"""Recurrent modules (``harness.strategies.op_recurrent``): ``nn.GRU`` and ``nn.LSTM`` drawn as their ATen calls and
written as real code writes them (the module owning its weights list, ``gru(x)`` when the initial state is zeros
made for that call alone), which ``torch.export`` writes back as the same call, inside the module's partition."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, find, settings

from harness import strategies as S
from harness.case import Graph, Node, Ref, TensorMeta
from harness.fx.build import example_inputs
from harness.fx.export import export_module
from harness.strategies.op_recurrent import weight_names

REACH = settings(database=None, max_examples=2000, suppress_health_check=list(HealthCheck))


def _gru_graph(state: str, layers: int = 1, bidirectional: bool = False) -> Graph:
    """x -> gru(x, h0) -> output sequence; ``state`` "zeros" (made for the call) or "input" (a placeholder)."""
    nodes = [Node(f"gru_{w}", "get_attr", f"gru_{w}", tensor=TensorMeta(_shape(w, bidirectional)),
                  attr_kind="parameter") for w in weight_names(layers, bidirectional, True)]
    directions = 2 if bidirectional else 1
    nodes.append(Node("x", "placeholder", tensor=TensorMeta((2, 3, 8))))
    if state == "input":
        nodes.append(Node("h", "placeholder", tensor=TensorMeta((directions * layers, 2, 4))))
    else:
        nodes.append(Node("h", "call_function", "aten.zeros.default", ((directions * layers, 2, 4),)))
    weights = tuple(Ref(f"gru_{w}") for w in weight_names(layers, bidirectional, True))
    nodes += [Node("gru", "call_function", "aten.gru.input",
                   (Ref("x"), Ref("h"), weights, True, layers, 0.0, False, bidirectional, True)),
              Node("y", "call_function", "getitem", (Ref("gru"), 0)),
              Node("output", "output", args=((Ref("y"),),))]
    return Graph(tuple(nodes))


def _shape(name: str, bidirectional: bool) -> tuple[int, ...]:
    layer = int(name.split("_l")[1][0])
    if name.startswith("weight_ih"):
        return (12, 8 if layer == 0 else (2 if bidirectional else 1) * 4)
    return (12, 4) if name.startswith("weight_hh") else (12,)


def _called_with(graph: Graph) -> list[int]:
    """How many tensors the program's ``nn.GRU`` submodule is called with, per call."""
    module, counts = S.graph_to_module(graph), []
    (gru,) = [m for m in module.modules() if isinstance(m, torch.nn.GRU)]
    gru.register_forward_pre_hook(lambda m, args: counts.append(len(args)))
    module(*example_inputs(graph))
    return counts


def test_a_gru_with_zeros_made_for_it_is_called_without_a_state_and_one_with_an_input_state_with_it():
    assert _called_with(_gru_graph("zeros")) == [1]
    assert _called_with(_gru_graph("input")) == [2]


def test_the_module_owns_every_weight_of_two_bidirectional_layers_and_computes_the_drawn_call():
    graph = _gru_graph("zeros", layers=2, bidirectional=True)
    module = S.graph_to_module(graph)
    (gru,) = [m for m in module.modules() if isinstance(m, torch.nn.GRU)]
    assert gru.num_layers == 2 and gru.bidirectional and gru.batch_first
    assert not [n for n, _ in module.named_parameters(recurse=False)]  # all owned by the GRU
    from harness.fx.build import build_module
    torch.testing.assert_close(module(*example_inputs(graph))[0], build_module(graph)(*example_inputs(graph))[0])


def test_a_strict_export_puts_the_call_in_the_grus_source_partition():
    """What the quantizers match (``get_source_partitions(graph, [nn.GRU])``): the call and its zeros."""
    graph = _gru_graph("zeros")
    gm = export_module(S.graph_to_module(graph), example_inputs(graph), strict=True)
    sources = {n.target: n.meta.get("source_fn_stack", [[None, None]])[-1][1] for n in gm.graph.nodes
               if n.op == "call_function"}
    assert sources[torch.ops.aten.gru.input] is torch.nn.GRU
    assert sources[torch.ops.aten.zeros.default] is torch.nn.GRU


def test_an_lstm_is_read_through_three_flat_outputs():
    graph = find(S.graphs(max_nodes=3, ops={"aten.lstm.input"}, variants=False),
                 lambda g: any(n.target == "getitem" and n.args[1] == 2 for n in g.nodes), settings=REACH)
    exported, _ = S.export_graph(graph)
    lstms = [n for n in exported.nodes if n.target == "aten.lstm.input"]
    assert lstms and all(len(n.args[1]) == 2 for n in lstms)
    assert any(n.target == "getitem" and n.args[1] == 2 for n in exported.nodes)
