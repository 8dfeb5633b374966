"""Generated graphs are export-shaped around in-place writes: no in-place op writes a graph input, directly or
through a view of it (torch.export never records one; the generator wrote through ``reshape(x)`` before)."""

from __future__ import annotations

import random

from harness.fuzz.target import case_strategy
from harness.fx.build import build
from harness.strategies.fast import fast_example


def _writes_through_an_input(gm) -> int:
    inputs = {n for n in gm.graph.nodes if n.op == "placeholder"}
    base, bad = {}, 0
    for n in gm.graph.nodes:
        schema = getattr(n.target, "_schema", None)
        if n.op != "call_function" or schema is None or not schema.arguments or not n.args:
            continue
        alias = schema.arguments[0].alias_info
        if alias is not None and hasattr(n.args[0], "op"):
            base[n] = root = base.get(n.args[0], n.args[0])
            bad += alias.is_write and root in inputs
    return bad


def test_no_in_place_write_reaches_a_graph_input():
    rng, strategy = random.Random(1), case_strategy("valid", 10)
    assert sum(_writes_through_an_input(build(fast_example(strategy, rng))) for _ in range(600)) == 0
