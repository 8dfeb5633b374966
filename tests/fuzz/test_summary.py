"""The campaign's summary table (harness.fuzz.config.summary_table): a group of candidates that raised is one row,
which names each type raised with its count."""

from __future__ import annotations

import os

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

from harness.fuzz.config import CampaignConfig, CampaignResult, Finding, summary_table


def _new(signature: str, nodes: int, path: str) -> Finding:
    return Finding(signature, None, None, None, path, "...", nodes, 0.5, 1.0, shrunk=True)


def test_candidates_that_raised_are_one_row_naming_each_type_and_its_count():
    findings = [
        _new("crash_only_actual[AssertionError]", 6, "out/a.json"),
        _new("different_error[CyclicSharingError!=AssertionError]", 4, "out/b.json"),
        _new("crash_only_actual[RecursionError]", 3, "out/c.json"),
        # on a case torchao fails too: joins the group the run has for its failure
        _new("upstream-fails-too different_error[NotAnInputError!=AttributeError]", 5, "out/d.json"),
        _new("partition[split:edge~out] invariant:one_observer_per_group", 7, "out/e.json"),
    ]
    table = summary_table(CampaignResult(cases=10, seconds=1.0, findings=findings), CampaignConfig(out="out"))
    assert "2 new group(s) (5 findings)" in table
    rows = [line.split("  ") for line in table.splitlines() if line.startswith(("candidate raised", "invariant:"))]
    cells = [[c.strip() for c in row if c.strip()] for row in rows]
    assert cells == [
        ["candidate raised: AssertionError 2, AttributeError 1, RecursionError 1", "NEW", "4", "3", "out/c.json"],
        ["invariant:one_observer_per_group", "NEW", "1", "7", "out/e.json"],
    ]
