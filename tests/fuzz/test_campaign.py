"""The fuzz campaign: workers send findings as case data, the driver writes them (pending first, then shrunk),
classifies them and survives what workers and candidates do; the command line's exit statuses."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.case.files import iter_cases, load_case
from harness.fuzz import campaign
from harness.fuzz.campaign import CampaignConfig, exit_status
from harness.fuzz.launch import run_campaign
from harness.fuzz.config import WorkerSpec, finding_groups
from harness.fuzz.events import (FindingEvent, HarnessError, Progress, Ready, ReplayResult, WorkerLost)
from harness.fuzz.worker import run_worker
from one_crash_findings import one_crash_findings
from scripted_engine import ScriptedEngine


def always_crashes(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
    raise RuntimeError("broken prepare")


@pytest.mark.slow
def test_a_worker_sends_the_finding_as_data_first_pending_then_shrunk(tmp_path):
    """With hypothesis drawing and shrinking (the fast source's worker: tests/fuzz/test_search_fast.py)."""
    config = CampaignConfig(candidate=f"{__name__}:always_crashes", out=str(tmp_path), mode="valid", round_size=10,
                            shrink_seconds=20, generation="hypothesis")
    now = time.time()
    events = []
    run_worker(WorkerSpec(config, 0, 7, now, now + 25, generate_share=0.15), events.append)
    assert isinstance(events[0], Ready)
    findings = one_crash_findings(events, "RuntimeError")  # the same crash everywhere: one group
    assert [f.stage for f in findings] == ["pending", "shrunk"]
    pending, shrunk = (case_from_json(f.case) for f in findings)
    assert shrunk.info.kind == "finding" and "RuntimeError" in shrunk.info.notes
    assert findings[1].triage == "new"  # torchao does not raise RuntimeError: only the candidate fails this way
    # shrunk: a crash on every case shrinks to the smallest graph the strategy makes
    assert len([n for n in shrunk.graph.nodes if n.op == "call_function"]) <= 1
    assert len(shrunk.graph.nodes) <= len(pending.graph.nodes)
    assert not list(tmp_path.iterdir())  # the worker writes nothing: the driver does
    assert sum(e.cases for e in events if isinstance(e, Progress)) > 0


# ---- the driver, on a scripted engine ---------------------------------------------------------------------------


def _case_json():
    return case_to_json(load_case(next(Path(__file__).resolve().parents[2].joinpath("corpus").rglob("*.json"))))


def _finding(stage, signature="partition[x]", worker=0, triage="new", known=None):
    return FindingEvent(worker=worker, stage=stage, kind="divergence", signature=signature, triage=triage,
                        known_id=known, known_title="title" if known else None,
                        link="https://example.org" if known else None, summary="what went wrong", nodes=3,
                        detected=1.0, case=_case_json())


def test_the_driver_writes_pending_then_shrunk_and_keeps_one_file_per_signature(tmp_path):
    script = [[Ready(0), Ready(1), _finding("pending"), _finding("pending", worker=1)], [Progress(0, 5)],
              [_finding("shrunk")], [_finding("shrunk", worker=1)]]
    config = CampaignConfig(seconds=30, out=str(tmp_path), jobs=2, quiet=True)
    result = run_campaign(config, engine=ScriptedEngine(script))
    assert [f.signature for f in result.findings] == ["partition[x]"] and result.cases == 5
    assert len(iter_cases(tmp_path)) == 1 and not list((tmp_path / "pending").glob("*.json"))
    assert exit_status(result, config) == 1


def test_stop_on_new_waits_for_every_saved_case_to_be_replayed(tmp_path):
    """A fast worker can find a new failure before a slower one has replayed its share of the saved cases: the
    run stops only once they are all replayed (seen as a flaky Ray test)."""
    from harness.case.files import save_case

    corpus = sorted(Path(__file__).resolve().parents[2].joinpath("corpus").rglob("*.json"))
    saved = [str(save_case(load_case(p), tmp_path)) for p in corpus[:2]]

    def replayed(worker, label):
        return ReplayResult(worker, label, True, "partition[y]", "new", None, "still fails", 3)

    script = [[Ready(0), Ready(1), replayed(0, saved[0])], [_finding("shrunk")], [replayed(1, saved[1])],
              [Progress(0, 7)]]
    config = CampaignConfig(seconds=30, out=str(tmp_path), jobs=2, quiet=True, stop_on_new=True)
    result = run_campaign(config, engine=ScriptedEngine(script))
    assert sorted(result.replayed) == sorted(saved)  # both replayed before the stop
    assert result.cases == 0  # and the run stopped right after the last one


def test_a_finding_still_shrinking_at_the_end_stays_on_disk_and_counts(tmp_path):
    config = CampaignConfig(seconds=30, out=str(tmp_path), quiet=True)
    result = run_campaign(config, engine=ScriptedEngine([[Ready(0), Progress(0, 1), _finding("pending")]]))
    (f,) = result.findings
    assert not f.shrunk and Path(f.path).parent.name == "pending" and load_case(f.path).graph.nodes
    assert exit_status(result, config) == 1


def test_ctrl_c_prints_the_summary_keeps_the_pending_case_and_exits_130(tmp_path, capsys):
    config = CampaignConfig(seconds=30, out=str(tmp_path))
    result = run_campaign(config, out=sys.stdout,
                          engine=ScriptedEngine([[Ready(0), _finding("pending")], KeyboardInterrupt()]))
    assert result.interrupted and exit_status(result, config) == 130
    assert len(iter_cases(tmp_path / "pending")) == 1
    out = capsys.readouterr().out
    assert "interrupted" in out and "1 new group(s) (1 finding)" in out


def test_harness_errors_are_shown_once_each_and_make_the_status_3(tmp_path, capsys):
    errors = [HarnessError(0, "ValueError at x.py:1", "Traceback: boom"), HarnessError(0, "ValueError at x.py:1", "b"),
              HarnessError(0, "KeyError at y.py:2", "Traceback: other")]
    config = CampaignConfig(seconds=30, out=str(tmp_path))
    result = run_campaign(config, engine=ScriptedEngine([[Ready(0), Progress(0, 3), *errors], [_finding("shrunk")]]))
    assert result.harness_errors == {"ValueError at x.py:1": 2, "KeyError at y.py:2": 1}
    assert exit_status(result, config) == 3  # even with a new finding: the run itself is not trustworthy
    out = capsys.readouterr().out
    assert out.count("Traceback: boom") == 1 and "THE HARNESS FAILED" in out


def test_workers_that_all_die_before_checking_a_case_fail_the_run(tmp_path):
    lost = [WorkerLost(w, "crash", "the worker process was killed by SIGKILL", None, ready=False) for w in (0, 1)]
    config = CampaignConfig(seconds=30, out=str(tmp_path), jobs=2, quiet=True)
    result = run_campaign(config, engine=ScriptedEngine([lost]))
    assert result.harness_errors and exit_status(result, config) == 3


def test_a_lost_worker_is_a_finding_with_its_case_and_is_restarted(tmp_path):
    lost = WorkerLost(0, "timeout", "a case ran longer than the case time limit (2 s)", _case_json(), ready=True)
    engine = ScriptedEngine([[Ready(0), lost], [Ready(0), Progress(0, 2)]])
    config = CampaignConfig(seconds=30, out=str(tmp_path), quiet=True)
    result = run_campaign(config, engine=engine)
    (f,) = result.findings
    assert f.kind == "timeout" and f.is_new and not f.shrunk
    assert "case time limit" in load_case(f.path).info.notes
    assert len(engine.started) == 2 and engine.started[1].seed != engine.started[0].seed
    assert exit_status(result, config) == 1


def test_summary_table_lists_each_finding_with_its_status():
    result = campaign.CampaignResult(cases=10, seconds=1.0, findings=[
        campaign.Finding("partition[split:edge~out]", None, None, None, "out/a.json", "partition: ...", 3, 0.5, 1.0),
        campaign.Finding("known:ao-4421", "ao-4421", "t", "https://github.com/pytorch/ao/issues/4421", "out/b.json",
                         "...", 4, 0.5, 1.0, triage="known"),
        campaign.Finding("reference-disagrees partition", None, None, None, "out/c.json", "...", 2, 0.5, 1.0,
                         triage="reference"),
    ])
    table = campaign.summary_table(result, CampaignConfig())
    assert "1 new group(s) (1 finding), 1 known (1 finding), 1 UNJUDGED (1 finding)" in table
    lines = table.splitlines()
    assert any("NEW" in line and "out/a.json" in line for line in lines)
    assert any("known (ao-4421)" in line and "out/b.json" in line for line in lines)
    assert any("REFERENCE? (unjudged)" in line and "out/c.json" in line for line in lines)
    assert "1 UNJUDGED disagreement(s) with torchao" in table and "--strict" in table


def test_a_judged_quantizer_bug_is_shown_as_known_id_like_a_known_upstream_bug():
    """A quantizer campaign signs a judged quantizer bug's finding by its id alone; the summary groups and shows it as
    ``known:ID``, as it does a known upstream bug, one group for its configuration variants too."""
    def judged(signature, path, nodes):
        return campaign.Finding(signature, "x86-unused-conv", "t", "https://example.com/1", path, "...", nodes, 0.5,
                                1.0, triage="known")

    result = campaign.CampaignResult(cases=10, seconds=1.0, findings=[
        judged("x86-unused-conv", "out/a.json", 5), judged("config:loud x86-unused-conv", "out/b.json", 3)])
    (g,) = finding_groups(result.findings)
    assert g.key == "known:x86-unused-conv" and g.count == 2 and g.witness.path == "out/b.json"
    table = campaign.summary_table(result, CampaignConfig())
    assert "0 new group(s), 1 known (2 findings)" in table
    assert any(line.startswith("known:x86-unused-conv ") for line in table.splitlines()), table


def _new(signature, nodes, path, shrunk=True):
    return campaign.Finding(signature, None, None, None, path, "...", nodes, 0.5, 1.0, shrunk=shrunk)


def test_summary_table_shows_each_group_once_with_its_smallest_witness_and_count():
    """Findings of one root cause (first invariant violated) are one row: the smallest case, the count; findings of
    another root cause or status are another row."""
    one = "invariant:annotated_edges_observed invariant:one_observer_per_group"
    findings = [
        _new(f"partition[split:edge~out];structure[chains,nodes] {one}", 7, "out/a.json"),
        _new(f"partition[split:edge~edge,split:edge~out];structure[chains,nodes] {one}", 4, "out/b.json"),
        _new(f"observer_config[derived_from];partition[split:edge~edge];structure[chains,nodes] {one}", 4,
             "out/c.json", shrunk=False),
        _new("unobserved[-edge];structure[chains] invariant:annotated_edges_observed", 3, "out/d.json"),
        campaign.Finding(f"reference-disagrees partition[split:edge~out] {one}", None, None, None, "out/e.json", "...",
                         2, 0.5, 1.0, triage="reference"),
        # on cases torchao fails too: the one_observer_per_group failure joins its group, the other is a group
        _new(f"upstream-fails-too partition[split:edge~out] {one}", 9, "out/f.json"),
        _new("upstream-fails-too crash_only_expected[NotAnInputError]", 5, "out/g.json"),
    ]
    result = campaign.CampaignResult(cases=100, seconds=2.0, findings=findings)
    table = campaign.summary_table(result, CampaignConfig(out="out"))
    assert "3 new group(s) (6 findings), 0 known, 1 UNJUDGED (1 finding)" in table
    rows = [line.split() for line in table.splitlines()
            if line.startswith(("invariant:", "reference-disagrees", "upstream-fails-too  "))]
    assert rows == [["invariant:annotated_edges_observed", "NEW", "1", "3", "out/d.json"],
                    ["invariant:one_observer_per_group", "NEW", "4", "4", "out/b.json"],
                    ["upstream-fails-too", "NEW", "1", "5", "out/g.json"],
                    ["reference-disagrees", "invariant:one_observer_per_group", "REFERENCE?", "(unjudged)", "1", "2",
                     "out/e.json"]]
    assert "each of the 7 findings has its own file" in table and "upstream-fails-too: new failures on cases" in table
    assert [g.count for g in finding_groups(findings)] == [1, 4, 1, 1]


def _judged(signature, triage, known_id=None):
    return campaign.Finding(signature, known_id, None, None, f"out/{signature}.json", "...", 2, 0.5, 1.0,
                            triage=triage)


@pytest.mark.parametrize("triage", ["reference", "upstream"])
def test_an_unjudged_disagreement_with_torchao_passes_unless_strict(triage):
    """The exit policy: the candidate does what torchao does, so the run passes; --strict fails on it."""
    result = campaign.CampaignResult(cases=10, seconds=1.0, findings=[_judged("x", triage)])
    (f,) = result.findings
    assert f.unjudged and not f.is_new and result.new() == [] and result.unjudged() == [f]
    assert exit_status(result, CampaignConfig()) == 0
    assert exit_status(result, CampaignConfig(strict=True)) == 1
    assert "UNJUDGED" in f.label and "UNJUDGED" in campaign.summary_table(result, CampaignConfig())


def test_a_new_finding_fails_the_run_beside_unjudged_and_known_ones():
    result = campaign.CampaignResult(cases=10, seconds=1.0, findings=[
        _judged("a", "reference"), _judged("b", "known", "ao-4421"), _judged("c", "new")])
    assert [f.signature for f in result.new()] == ["c"]
    assert exit_status(result, CampaignConfig()) == 1
    assert exit_status(campaign.CampaignResult(10, 1.0, result.findings[:2]), CampaignConfig()) == 0


# ---- real campaigns ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_campaign_against_torchao_reports_only_known_bugs(tmp_path):
    config = CampaignConfig(seconds=30, out=str(tmp_path), mode="adversarial", seed=1, quiet=True)
    result = run_campaign(config)
    assert result.cases > 0 and not result.harness_errors
    assert result.findings, "adversarial annotations always make torchao raise bare errors"
    assert all(f.known_id for f in result.findings), [f.signature for f in result.new()]
    assert exit_status(result, config) == 0
    assert exit_status(result, CampaignConfig(strict=True)) == 1


@pytest.mark.slow
def test_campaign_against_the_reference_itself_finds_nothing(tmp_path):
    config = CampaignConfig(candidate="prepare_impl:prepare", seconds=25, out=str(tmp_path), seed=2, quiet=True)
    result = run_campaign(config)
    assert result.cases > 0 and result.findings == [] and not result.harness_errors
    assert exit_status(result, config) == 0


@pytest.mark.slow
def test_campaign_catches_a_mutant_and_exits_1(tmp_path):
    config = CampaignConfig(candidate="harness.mutants:skip_graph_input_edges", seconds=30, out=str(tmp_path),
                            mode="valid", seed=3, quiet=True)
    result = run_campaign(config)
    assert result.new(), "the mutant must be caught"
    assert exit_status(result, config) == 1


@pytest.mark.parametrize("argv", [
    ["fuzz", "--candidate", "no_such_module:prepare"],
    ["fuzz", "--candidate", "prepare_impl"],
    ["fuzz", "--seconds", "0"],
    ["fuzz", "--case-timeout", "0"],
    ["fuzz", "--bogus-flag"],
    ["no-such-command"],
])
def test_usage_errors_exit_2(argv):
    from harness.__main__ import main

    assert main(argv) == 2


@pytest.mark.slow
def test_a_missing_function_is_a_usage_error_reported_by_the_worker(tmp_path):
    from harness.__main__ import main

    assert main(["fuzz", "--candidate", "prepare_impl:no_such_function", "--seconds", "90", "--out",
                 str(tmp_path)]) == 2


def test_the_help_documents_the_exit_statuses():
    proc = subprocess.run([sys.executable, "-m", "harness", "fuzz", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    for status in ("0 nothing new", "1 a NEW finding", "2 usage", "3 the harness itself failed",
                   "130 interrupted", "unjudged disagreements", "with --strict, any finding"):
        assert status in " ".join(proc.stdout.split()), status
    assert "--generation {fast,hypothesis,guided}" in proc.stdout


@pytest.mark.slow
def test_the_command_line_runs_as_a_module_within_its_budget(tmp_path):
    start = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "fuzz", "--candidate", "prepare_impl:prepare", "--seconds", "25",
         "--out", str(tmp_path), "--seed", "5"],
        capture_output=True, text=True, timeout=180,
    )
    assert time.time() - start <= 25 * 1.1 + 5  # --seconds is the budget of the whole run, start-up included
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "cases in" in proc.stdout and "0 new group(s)" in proc.stdout


def test_mixed_mode_draws_three_valid_cases_for_one_adversarial():
    """About one adversarial case in four, from the campaign's fast source and from hypothesis (both seeded: a
    ratio over a few hundred draws is a random quantity, and hypothesis also favours the simplest kind)."""
    import random

    from hypothesis import HealthCheck, Phase, given, settings

    from harness.fuzz.target import case_strategy
    from harness.strategies.fast import fast_example

    rng = random.Random(0)
    fast = ["adversarial" in fast_example(case_strategy("mixed", 6), rng).info.tags for _ in range(400)]
    assert 0.15 <= sum(fast) / len(fast) <= 0.32

    adversarial = []

    @settings(max_examples=200, database=None, deadline=None, phases=[Phase.generate], derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case_strategy("mixed", 6))
    def draw(case):
        adversarial.append("adversarial" in case.info.tags)

    draw()
    assert 0.1 <= sum(adversarial) / len(adversarial) <= 0.35


def test_the_budget_of_a_call_of_main_counts_from_the_call_not_from_the_import(monkeypatch):
    """``python -m harness`` counts start-up in the budget; ``main([...])`` called later in a long-lived process
    (a test session) must not inherit the age of the process: that spent a 90 s budget before the run began."""
    import harness.__main__ as entry
    import harness.fuzz.cli as cli

    seen = []
    monkeypatch.setattr(cli, "main_fuzz", lambda argv, started: seen.append(started) or 0)
    monkeypatch.setattr(entry, "STARTED", time.time() - 1000.0)
    before = time.time()
    assert entry.main(["fuzz", "--seconds", "5"]) == 0
    assert seen and before <= seen[0] <= time.time()
    assert entry.main(["fuzz"], started=123.0) == 0 and seen[-1] == 123.0


def test_the_summary_says_how_long_each_worker_took_to_start(tmp_path):
    config = CampaignConfig(seconds=30, out=str(tmp_path), quiet=True, jobs=2)
    result = run_campaign(config, engine=ScriptedEngine([[Ready(0), Progress(0, 1)], [Ready(1), Progress(1, 2)]]))
    assert [w for w, _ in result.startups] == [0, 1] and all(s >= 0 for _, s in result.startups)
    assert "worker start-up (from its start to its first case)" in campaign.summary_table(result, config)


class ReRunningEngine(ScriptedEngine):
    """A worker restarted with a case to replay re-runs it: in time (a ReplayResult) or into the limit again."""

    def __init__(self, script, hangs_again):
        super().__init__(script)
        self.hangs_again = hangs_again

    def start(self, spec):
        super().start(spec)
        for label, case in spec.replay:
            if self.hangs_again:
                self.script.append([Ready(spec.worker), WorkerLost(spec.worker, "timeout", "again", case, ready=True)])
            else:
                self.script.append([Ready(spec.worker), ReplayResult(spec.worker, label, False, "", "", None, "", 3),
                                    Progress(spec.worker, 1)])


@pytest.mark.parametrize("hangs_again", [False, True])
def test_a_timeout_is_re_run_in_a_fresh_worker_before_it_counts(tmp_path, hangs_again):
    """A case over the time limit on a busy machine is not a hang: the restarted worker re-runs it first. In time,
    the timeout is NOT REPRODUCED (unjudged, exit 0 unless --strict); over the limit again, it is NEW."""
    lost = WorkerLost(0, "timeout", "a case ran longer than the case time limit (2 s)", _case_json(), ready=True)
    engine = ReRunningEngine([[Ready(0), lost]], hangs_again)
    config = CampaignConfig(seconds=30, out=str(tmp_path), quiet=True)
    result = run_campaign(config, engine=engine)
    (f,) = result.findings
    assert engine.started[1].replay and engine.started[1].replay[0][0] == f.path  # the case, from its file
    assert Path(f.path).is_file()  # kept either way
    if hangs_again:
        assert f.is_new and exit_status(result, config) == 1
    else:
        assert f.triage == "flaky" and f.unjudged and "not reproduced" in f.summary
        assert exit_status(result, config) == 0 and exit_status(result, CampaignConfig(strict=True)) == 1
        assert "NOT REPRODUCED" in campaign.summary_table(result, config)
