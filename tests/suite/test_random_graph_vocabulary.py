"""The plugin's random graphs reach what real quantizers annotate: the whole op vocabulary (the campaign's,
``GENERATED_OPS``) and the fused patterns (motifs), so a quantizer does not pass only because the op or the pattern
its annotator mishandles was never built."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, find, settings

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
    quiet = settings(database=None, max_examples=500, suppress_health_check=list(HealthCheck), derandomize=True)
    strategy = graph_strategy(CI)
    wide = find(strategy, lambda g: bool(_ops(g) - _OLD), settings=quiet)
    assert _ops(wide) - _OLD

    def conv_bn_relu(graph) -> bool:  # a motif: conv -> batch norm -> relu, as quantizers match it
        by_name = {n.name: n for n in graph.nodes}

        def reads(node, prefix):
            return any(isinstance(a, Ref) and str(by_name[a.name].target).startswith(prefix) for a in node.args)

        bns = [n for n in graph.nodes if n.target == "aten.batch_norm.default" and reads(n, "aten.conv")]
        return any(n.target.startswith("aten.relu") and any(isinstance(a, Ref) and a.name == bn.name
                                                            for a in n.args) for n in graph.nodes for bn in bns)

    assert conv_bn_relu(find(strategy, conv_bn_relu, settings=quiet))


def test_with_the_old_vocabulary_that_quantizer_passed(monkeypatch):
    """The control: the graphs the plugin drew before (``graphs()``'s default ops, no motifs) never reach its bug."""
    from harness.suite.checks import random_search

    monkeypatch.setattr(random_search, "graph_strategy",
                        lambda options: strategies.graphs(min_nodes=1, max_nodes=options.budget.max_nodes))
    result = search_random_graphs(Subject("random", "0"), quantizer_source(_RaisesOnAnOpOutsideTheOldVocabulary), CI)
    assert result.outcome == "passed" and result.stats["examples"] == 10, result.problems
