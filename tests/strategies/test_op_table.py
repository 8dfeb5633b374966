"""The op table (issue 14): one entry per op, read by the codec's allow-list, the generators and the exporter.

Each op of the table is drawn, builds with the values its shape rule says, runs, and (when it has a program
spelling) its module program computes the same values and exports back to the op it names."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, Phase, find, settings

from harness import strategies as S
from harness.case import names
from harness.fx import ops
from harness.fx.build import build_module, example_inputs
from harness.strategies import op_table
from fake_meta import fake_meta

REACH = settings(max_examples=2000, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
                 suppress_health_check=list(HealthCheck))
# ops that make what some generators read: a computed value (in-place ops), a condition (where, logic), a 5-d value
# (conv3d, pool3d), a value that is not contiguous (contiguous), a value in (0, 1) (log, sqrt, acos...)
HELPERS = frozenset({"aten.relu.default", "aten.gt.Scalar", "aten.unsqueeze.default", "aten.t.default",
                     "aten.sigmoid.default"})


def test_every_op_of_the_table_is_allowed_by_the_codec_and_resolves():
    missing = [op for op in op_table.GENERATED_OPS if op not in names.OP_NAMES]
    assert not missing, f"add these to harness/case/names.py: {missing}"
    assert all(op in ops.OPS for op in op_table.GENERATED_OPS)


def test_the_table_derives_everything_else():
    assert len(set(op_table.GENERATED_OPS)) == len(op_table.GENERATED_OPS) == len(op_table.TABLE)
    assert set(op_table.SHAPE_RULES) == set(op_table.GENERATED_OPS) | {"getitem"}
    assert set(S.IR_OPS) <= set(S.GENERATED_OPS) and set(op_table.BASIC_OPS) <= set(S.IR_OPS)
    assert {g.name for g in op_table.OP_GENS} == set(op_table.GENERATED_OPS)
    assert op_table.VIEW_OPS.isdisjoint(op_table.MULTI_VIEW_OPS)
    for entry in op_table.TABLE:
        assert (entry.module is None) == (not entry.owns), entry.name


def _check_op(op: str) -> None:
    graph = find(S.graphs(max_nodes=4, ops=HELPERS | {op}, variants=False),
                 lambda g: any(n.target == op for n in g.nodes), settings=REACH)
    meta = S.infer_meta(graph)
    gm = build_module(graph)
    gm.graph.lint()
    for node in gm.graph.nodes:
        if node.op != "output":
            assert fake_meta(node.meta["val"]) == meta[node.name], node.name
    expected = gm(*example_inputs(graph))
    if op not in S.PROGRAM_OPS:
        return
    module = S.graph_to_module(graph)
    got = module(*example_inputs(graph))
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, equal_nan=True)
    exported, _ = S.export_graph(graph)
    assert op in {n.target for n in exported.nodes}, (op, sorted({n.target for n in exported.nodes}))


@pytest.mark.parametrize("op", op_table.GENERATED_OPS)
def test_every_op_builds_matches_its_rule_and_exports_to_itself(op):
    _check_op(op)


def test_the_prepare_campaign_keeps_its_vocabulary():
    case = find(S.cases(max_nodes=6), lambda c: len(c.graph.nodes) > 6, settings=REACH)
    assert {n.target for n in case.graph.nodes if n.op == "call_function"} <= set(S.IR_OPS) | {"getitem"}
