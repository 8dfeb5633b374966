"""The runner of the ``random_graphs`` check: hypothesis draws the graphs of one chunk
(:mod:`harness.suite.subjects.random_graphs`), runs :func:`harness.suite.checks.graph_checks.check_graph` on each,
and shrinks the first failing graph within the profile's shrink time (a hang is not shrunk: each step would cost a
timeout). The notes of all examples (e.g. dead-code elimination) are reported once each, with their count.

A failing graph that is a judged bug of the real quantizer under test (:class:`harness.suite.checks.quantizer_case.
JudgedBugs`: the campaign's check of the graph fails as that bug, whose own case still fails the same way) is
counted as that known bug, as a known upstream bug of torchao's steps is, and the search goes on: the quantizer
author is told of it, and a sound quantizer is not failed for a bug already judged and reported upstream."""

from __future__ import annotations

import time
from typing import Any, Optional

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings

from harness.check.run import load_function
from harness.suite.check_registry import RANDOM_GRAPHS
from harness.suite.checks.graph_checks import GraphVerdict, check_graph
from harness.suite.checks.quantizer_case import JudgedBugs
from harness.suite.checks.quantizer_run import annotated_node_count
from harness.suite.options import SuiteOptions
from harness.suite.results import CheckResult, Problem
from harness.suite.source import QuantizerSource
from harness.suite.subjects.random_graphs import chunk_examples, chunk_seed, graph_strategy
from harness.suite.subjects.subject import Subject

__all__ = ["search_random_graphs"]


class _GraphFailed(Exception):
    def __init__(self, verdict: GraphVerdict) -> None:
        self.verdict = verdict
        super().__init__(verdict.problems[0].message if verdict.problems else "failed")


def search_random_graphs(subject: Subject, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Hypothesis over the random graphs of one chunk (``subject``) of the example budget; the first failing graph
    is shrunk (within the profile's shrink time) and reported."""
    budget = options.budget
    chunk = subject.chunk
    n = chunk_examples(options, chunk)
    result = CheckResult(RANDOM_GRAPHS.name, subject, source.label)
    the_seed = chunk_seed(options, chunk)
    result.stats.update(seed=the_seed, examples=0, annotated_examples=0, known=0, unusable=0)
    if n == 0:
        result.problems.append(Problem(RANDOM_GRAPHS.name, "no examples in this chunk", "skip"))
        return result
    memo: dict[Any, GraphVerdict] = {}
    known: dict[str, int] = {}
    notes: dict[str, int] = {}
    state = {"shrink_deadline": None}
    judged: list[JudgedBugs] = []  # made at the first failing graph (loading the corpus costs nothing before)
    named: dict[Any, Optional[str]] = {}  # graph -> the judged bug it is (judged once)

    def judged_bug(graph: Any, verdict: GraphVerdict) -> Optional[str]:
        if graph not in named:
            named[graph] = None
            if not any("did not return within" in p.message for p in verdict.problems):  # a hang: not run again
                if not judged:
                    judged.append(JudgedBugs(source, load_function(options.prepare)))
                bug = judged[0].named(graph, source.is_qat, [p for p in verdict.problems if p.level == "error"])
                if bug is not None:
                    named[graph] = f"[{bug.id}] {bug.title} ({bug.link})"  # as a known bug of torchao's steps reads
                    known[named[graph]] = known.get(named[graph], 0) + 1
        return named[graph]

    @settings(max_examples=n, deadline=None, database=None, derandomize=False, verbosity=Verbosity.quiet,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
              phases=(Phase.explicit, Phase.generate, Phase.shrink), print_blob=False)
    @seed(the_seed)
    @given(graph_strategy(options))
    def prop(graph: Any) -> None:
        verdict = memo.get(graph)
        if verdict is None:
            deadline = state["shrink_deadline"]
            if deadline is not None and time.monotonic() > deadline:
                return  # out of shrink time: keep the smallest failure found so far
            verdict = check_graph(graph, source, options)
            memo[graph] = verdict
            if verdict.unusable is None and verdict.gm is not None and deadline is None:  # gm None: hung earlier
                result.stats["examples"] += 1
                if annotated_node_count(verdict.gm) > 0:
                    result.stats["annotated_examples"] += 1
            elif verdict.unusable is not None:
                result.stats["unusable"] += 1
            for p in verdict.problems:
                if p.level in ("known", "note") and deadline is None:
                    counts = known if p.level == "known" else notes
                    key = p.message.splitlines()[0]
                    counts[key] = counts.get(key, 0) + 1
        if verdict.failed and state["shrink_deadline"] is None and judged_bug(graph, verdict) is not None:
            return
        if verdict.failed:
            if state["shrink_deadline"] is None:
                timed_out = any("did not return within" in p.message for p in verdict.problems)
                # a hang costs a timeout per shrink step: do not shrink it
                state["shrink_deadline"] = time.monotonic() + (0 if timed_out else budget.shrink_seconds)
            raise _GraphFailed(verdict)

    try:
        prop()
    except _GraphFailed as e:
        result.problems.extend(p for p in e.verdict.problems if p.level != "note")
        result.gm = e.verdict.gm
    result.problems.extend(Problem(RANDOM_GRAPHS.name, f"{note} (in {k} example(s))", "note")
                           for note, k in sorted(notes.items()))
    result.stats["known"] = sum(known.values())
    if known:
        result.stats["known_bugs"] = sorted(known)
    return result
