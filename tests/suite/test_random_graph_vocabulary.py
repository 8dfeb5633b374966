"""The plugin's random graphs reach what real quantizers annotate: the whole op vocabulary (the campaign's,
``GENERATED_OPS``) and the fused patterns (motifs), so a quantizer does not pass only because the op or the pattern
its annotator mishandles was never built."""

from __future__ import annotations

import torch

from harness import strategies
from harness.case import Ref
from harness.suite.checks.random_search import search_random_graphs
from harness.suite.options import SuiteOptions
from harness.suite.source import quantizer_source
from harness.suite.subjects.random_graphs import graph_strategy
from harness.suite.subjects.subject import Subject

CI = SuiteOptions(profile="ci", examples=10)
_OLD = set(strategies.IR_OPS) | {"getitem"}  # the narrow vocabulary the plugin drew before


def _ops(graph) -> set[str]:
    return {n.target for n in graph.nodes if n.op == "call_function"}


class _RaisesOnAnOpOutsideTheOldVocabulary:
    """A quantizer whose annotator fails on every op the plugin did not build before (the kind of bug the plugin
    missed); fine on the rest."""

    def annotate(self, gm):
        new = sorted({str(n.target) for n in gm.graph.nodes if n.op == "call_function"
                      and isinstance(n.target, torch._ops.OpOverload) and _name(n.target) not in _OLD})
        if new:
            raise NotImplementedError(f"annotator cannot handle {new}")  # a crash, not a refusal's words
        return gm

    def validate(self, gm):
        pass


def _name(target: torch._ops.OpOverload) -> str:
    return f"aten.{target._schema.name.split('::')[1]}.{target._overloadname}"


def test_the_ci_budget_of_random_graphs_fails_a_quantizer_that_breaks_on_an_op_it_never_saw():
    source = quantizer_source(_RaisesOnAnOpOutsideTheOldVocabulary)
    result = search_random_graphs(Subject("random", "0"), source, CI)
    assert result.outcome == "failed", result.problems
    assert "annotate() raised NotImplementedError: annotator cannot handle" in result.errors[0].message


def test_random_graphs_draw_ops_outside_the_old_vocabulary_and_motifs():
    """Drawn from one seeded stream (the fast source: hypothesis's own generation leans on the constants of the
    modules loaded, so what 500 of its examples hold depends on the test run): ops outside the old vocabulary in
    most graphs, and conv -> batch norm -> relu (measured in 1.7% of graphs) among 600."""
    import random

    from harness.strategies.fast import fast_example

    rnd, strategy = random.Random(0), graph_strategy(CI)
    graphs = [fast_example(strategy, rnd) for _ in range(600)]
    assert sum(bool(_ops(g) - _OLD) for g in graphs) > len(graphs) / 2

    def conv_bn_relu(graph) -> bool:  # a motif: conv -> batch norm -> relu, as quantizers match it
        by_name = {n.name: n for n in graph.nodes}

        def reads(node, prefix):
            return any(isinstance(a, Ref) and str(by_name[a.name].target).startswith(prefix) for a in node.args)

        bns = [n for n in graph.nodes if n.target == "aten.batch_norm.default" and reads(n, "aten.conv")]
        return any(n.target.startswith("aten.relu") and any(isinstance(a, Ref) and a.name == bn.name
                                                            for a in n.args) for n in graph.nodes for bn in bns)

    assert any(conv_bn_relu(g) for g in graphs)


def test_with_the_old_vocabulary_that_quantizer_passed(monkeypatch):
    """The control: the graphs the plugin drew before (``graphs()``'s default ops, no motifs) never reach its bug."""
    from harness.suite.checks import random_search

    monkeypatch.setattr(random_search, "graph_strategy",
                        lambda options: strategies.graphs(min_nodes=1, max_nodes=options.budget.max_nodes))
    result = search_random_graphs(Subject("random", "0"), quantizer_source(_RaisesOnAnOpOutsideTheOldVocabulary), CI)
    assert result.outcome == "passed" and result.stats["examples"] == 10, result.problems
