"""The fuzz campaign and its command line: findings are shrunk, saved before they are reported, classified."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.fuzz import campaign
from harness.fuzz.campaign import CampaignConfig, exit_status, run_campaign, run_worker
from harness.case.files import load_case


def always_crashes(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
    raise RuntimeError("broken prepare")


def test_a_finding_is_on_disk_before_it_is_reported_and_is_shrunk(tmp_path):
    config = CampaignConfig(candidate=f"{__name__}:always_crashes", seconds=4, out=str(tmp_path), mode="valid",
                            round_size=10, shrink_seconds=20)
    events = []

    def emit(event):
        if event[0] == "finding":
            assert Path(event[1]["path"]).is_file()  # written before it is reported
        events.append(event)

    import time

    run_worker(config, worker_seed=7, started=time.time(), emit=emit)
    findings = [e[1] for e in events if e[0] == "finding"]
    assert len(findings) == 1  # one signature: the same crash everywhere, reported once
    case = load_case(findings[0]["path"])
    assert case.info.kind == "finding" and "RuntimeError" in case.info.notes
    # shrunk: a crash on every case shrinks to the smallest graph the strategy makes
    assert len([n for n in case.graph.nodes if n.op == "call_function"]) <= 1
    assert not list((tmp_path / "pending").glob("*.json"))  # the unshrunk copy is gone once the shrunk one is saved


def test_campaign_against_torchao_reports_only_known_bugs(tmp_path):
    config = CampaignConfig(seconds=12, out=str(tmp_path), mode="adversarial", seed=1, quiet=True)
    result = run_campaign(config)
    assert result.cases > 0
    assert result.findings, "adversarial annotations always make torchao raise bare errors"
    assert all(f.known_id for f in result.findings), [f.signature for f in result.new()]
    assert exit_status(result, config) == 0
    assert exit_status(result, CampaignConfig(strict=True)) == 1


def test_campaign_against_the_reference_itself_finds_nothing(tmp_path):
    config = CampaignConfig(candidate="prepare_impl:prepare", seconds=8, out=str(tmp_path), seed=2, quiet=True)
    result = run_campaign(config)
    assert result.cases > 0 and result.findings == []
    assert exit_status(result, config) == 0


def test_campaign_catches_a_mutant_and_exits_1(tmp_path):
    config = CampaignConfig(candidate="harness.mutants:skip_graph_input_edges", seconds=10, out=str(tmp_path),
                            mode="valid", seed=3, quiet=True, shrink_seconds=15)
    result = run_campaign(config)
    assert result.new(), "the mutant must be caught"
    assert exit_status(result, config) == 1


def test_summary_table_lists_each_finding_with_its_status():
    result = campaign.CampaignResult(cases=10, seconds=1.0, findings=[
        campaign.Finding("partition[split:edge~out]", None, None, None, "out/a.json", "partition: ...", 3, 0.5, 1.0),
        campaign.Finding("known:ao-4421", "ao-4421", "t", "https://github.com/pytorch/ao/issues/4421", "out/b.json",
                         "...", 4, 0.5, 1.0),
    ])
    table = campaign.summary_table(result, CampaignConfig())
    assert "1 new finding(s), 1 known" in table
    lines = table.splitlines()
    assert any("NEW" in line and "out/a.json" in line for line in lines)
    assert any("known (ao-4421)" in line and "out/b.json" in line for line in lines)


@pytest.mark.parametrize("argv", [
    ["fuzz", "--candidate", "no_such_module:prepare"],
    ["fuzz", "--candidate", "prepare_impl:no_such_function"],
    ["fuzz", "--seconds", "0"],
    ["fuzz", "--bogus-flag"],
    ["no-such-command"],
])
def test_usage_errors_exit_2(argv):
    from harness.__main__ import main

    assert main(argv) == 2


def test_the_command_line_runs_as_a_module(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "fuzz", "--candidate", "prepare_impl:prepare", "--seconds", "3",
         "--out", str(tmp_path), "--seed", "5"],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "cases in" in proc.stdout and "0 new finding(s)" in proc.stdout
