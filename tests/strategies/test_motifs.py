"""Motifs (issue 14, item 2): the fused patterns quantizers match are drawn as chains inside random graphs, and
``torch.export`` writes them back as the same chain, which is what a quantizer's pattern matcher reads."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, Phase, find, settings

from harness import strategies as S
from harness.case import Graph, Ref
from harness.strategies.fast import fast_example
from harness.strategies.motifs import MOTIFS, Motif, Step, motif_gens
from harness.strategies.op_table import OP_GENS

REACH = settings(max_examples=3000, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
                 suppress_health_check=list(HealthCheck))


def chained(graph: Graph, motif: Motif) -> bool:
    """Whether ``graph`` holds the motif: a node of its first step, then along uses a node of each later step in
    order (an optional step may be missing)."""
    users: dict[str, list] = {}
    for n in graph.nodes:
        for a in n.args:
            for r in (a if isinstance(a, (tuple, list)) else (a,)):
                if isinstance(r, Ref):
                    users.setdefault(r.name, []).append(n)

    def walk(name: str, i: int) -> bool:
        if i == len(motif.steps):
            return True
        step = motif.steps[i]
        if step.optional and walk(name, i + 1):
            return True
        return any(u.target in step.ops and walk(u.name, i + 1) for u in users.get(name, ()))

    return any(n.target in motif.steps[0].ops and walk(n.name, 1) for n in graph.nodes)


def test_every_motif_names_ops_of_the_table():
    for motif in MOTIFS:
        for step in motif.steps:
            unknown = set(step.ops) - set(S.GENERATED_OPS)
            assert not unknown, (motif.name, unknown)
    assert len(motif_gens(OP_GENS)) == len(MOTIFS)


def test_motifs_are_kept_to_the_allowed_ops():
    names = {g.name for g in motif_gens([g for g in OP_GENS if g.name in S.IR_OPS])}
    assert "motif.attention" in names  # bmm, softmax: first ops
    assert "motif.conv_transpose_bn_act" not in names  # conv_transpose is not among them


@pytest.mark.parametrize("motif", MOTIFS, ids=lambda m: m.name)
def test_each_motif_is_drawn_whole_and_exports_as_the_same_chain(motif):
    graph = find(S.graphs(max_nodes=8, ops=S.GENERATED_OPS, variants=False, motifs=True),
                 lambda g: chained(g, motif), settings=REACH)
    exported, _ = S.export_graph(graph)
    assert chained(exported, motif), [(n.name, n.target) for n in exported.nodes]


def test_motifs_make_patterns_common_where_uniform_graphs_seldom_have_them():
    def share(motifs: bool) -> float:
        strategy = S.graphs(max_nodes=12, ops=S.GENERATED_OPS, motifs=motifs)
        rnd = random.Random(7)
        graphs = [fast_example(strategy, rnd) for _ in range(200)]
        return sum(any(chained(g, m) for m in whole) for g in graphs) / len(graphs)

    whole = [Motif(m.name, tuple(Step(step.ops) for step in m.steps)) for m in MOTIFS]  # every step drawn

    without, with_motifs = share(False), share(True)
    assert with_motifs >= 0.25 and with_motifs >= 5 * without, (without, with_motifs)  # 0.37 and 0.024 at 500

