"""Ops called through a module without parameters (``Node.module``; the op table's ``stateless`` spellings,
``harness.strategies.module_spellings``): drawn with the quantizers' vocabulary, written as ``nn.ReLU()(x)`` in the
module program, read back from ``nn_module_stack`` after ``torch.export`` (strict or not), so a quantizer that
matches module classes (``get_source_partitions(graph, [nn.ReLU])``) meets them and a saved case keeps them."""

from __future__ import annotations

import random

import pytest
import torch
from torch.fx.passes.utils.source_matcher_utils import get_source_partitions

from harness import strategies
from harness.case import Case, Graph, Node, Ref, TensorMeta
from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.case.jsonform import CaseFormatError
from harness.case.names import STATELESS_MODULES
from harness.fx.extract import extract_graph
from harness.strategies.fast import fast_example
from harness.strategies.op_table import BASIC_OPS, ENTRIES, TABLE
from harness.suite.subjects.case_graphs import graph_module_for_quantizer


def test_the_table_spells_through_a_module_exactly_the_classes_the_codec_allows():
    spelled = {op.name: tuple(name for name, _ in op.stateless) for op in TABLE if op.stateless}
    assert spelled == STATELESS_MODULES


def _one(target: str, args: tuple, module: str, shape=(1, 4, 8, 8)) -> Graph:
    return Graph((Node("x", "placeholder", tensor=TensorMeta(shape)),
                  Node("y", "call_function", target, (Ref("x"),) + args, module=module),
                  Node("output", "output", args=((Ref("y"),),))))


@pytest.mark.parametrize("strict", [False, True], ids=["non-strict", "strict"])
@pytest.mark.parametrize("target,args,module,cls", [
    ("aten.relu.default", (), "ReLU", torch.nn.ReLU),
    ("aten.hardtanh.default", (0.0, 6.0), "ReLU6", torch.nn.ReLU6),
    ("aten.max_pool2d.default", ((2, 2), (2, 2)), "MaxPool2d", torch.nn.MaxPool2d),
    ("aten.adaptive_avg_pool2d.default", ((1, 1),), "AdaptiveAvgPool2d", torch.nn.AdaptiveAvgPool2d),
])
def test_a_module_spelling_is_exported_as_its_op_with_its_class_and_read_back(strict, target, args, module, cls):
    graph = _one(target, args, module)
    gm = graph_module_for_quantizer(graph, strict)
    assert get_source_partitions(gm.graph, [cls])  # what a quantizer matching the class finds
    (node,) = [n for n in extract_graph(gm).nodes if n.op == "call_function"]
    assert (node.target, node.module) == (target, module)
    plain = graph_module_for_quantizer(_one(target, args, ""), strict)
    assert not get_source_partitions(plain.graph, [cls])  # the function spelling: no module class recorded
    assert all(not n.module for n in extract_graph(plain).nodes)


def test_a_module_that_does_not_fit_the_arguments_falls_back_to_the_function():
    gm = graph_module_for_quantizer(_one("aten.hardtanh.default", (-1.0, 1.0), "ReLU6"), False)
    assert not get_source_partitions(gm.graph, [torch.nn.ReLU6])  # not the bounds nn.ReLU6 has
    assert [n.module for n in extract_graph(gm).nodes if n.op == "call_function"] == [""]
    # nn.MaxPool2d(ceil_mode=True) would be exported as max_pool2d_with_indices: the op itself is kept
    ceil = graph_module_for_quantizer(_one("aten.max_pool2d.default", ((2, 2), (2, 2), (0, 0), (1, 1), True),
                                           "MaxPool2d", shape=(1, 4, 7, 7)), False)
    assert [(n.target, n.module) for n in extract_graph(ceil).nodes if n.op == "call_function"] == [
        ("aten.max_pool2d.default", "")]


def test_the_quantizer_vocabulary_draws_module_spellings_and_the_prepare_vocabulary_none():
    wide = strategies.graphs(min_nodes=1, max_nodes=12, ops=strategies.GENERATED_OPS, motifs=True)
    nodes = [n for i in range(60) for n in fast_example(wide, random.Random(i)).nodes
             if n.op == "call_function" and n.target in STATELESS_MODULES]
    share = sum(bool(n.module) for n in nodes) / len(nodes)
    assert 0.3 < share < 0.7, share
    assert all(n.module in STATELESS_MODULES[n.target] for n in nodes if n.module)
    basic = strategies.graphs(min_nodes=1, max_nodes=12, ops=BASIC_OPS)
    assert not any(n.module for i in range(30) for n in fast_example(basic, random.Random(i)).nodes)


def test_a_nodes_module_is_written_only_when_set_and_only_a_class_its_op_allows():
    case = Case(_one("aten.relu.default", (), "ReLU"), ())
    data = case_to_json(case)
    (relu,) = [n for n in data["graph"]["nodes"] if n["op"] == "call_function"]
    assert relu["module"] == "ReLU" and case_from_json(data) == case
    assert "module" not in str(case_to_json(Case(_one("aten.relu.default", (), ""), ())))
    relu["module"] = "Sigmoid"
    with pytest.raises(CaseFormatError, match="module"):
        case_from_json(data)
    assert "aten.relu.default" in ENTRIES
