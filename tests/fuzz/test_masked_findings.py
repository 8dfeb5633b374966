"""A finding torchao masks, through a worker and the driver (harness.check.masked): sent pending as found (NEW,
``upstream-fails-too``), shrunk to a case torchao fails the same way, and recorded as what that case is, a known
upstream bug, with its pending copy gone and the way it was found in its summary and its file's notes; and so
through ``python -m harness shrink``."""

from __future__ import annotations

import time

from harness.case.decode import case_from_json
from harness.case.files import iter_cases, load_case, save_case
from harness.check.run import check_case, load_function
from harness.fuzz.campaign import CampaignConfig, exit_status
from harness.fuzz.cli_shrink import main_shrink
from harness.fuzz.config import WorkerSpec
from harness.fuzz.events import FindingEvent, Progress, Ready
from harness.fuzz.launch import run_campaign
from harness.fuzz.search_fast import settle
from harness.fuzz.session import CaseGuard, Worker
from harness.fuzz.target import finding_case, prepare_target
from masked_cases import MASKED_BY_A_LOOP, looping_and_lenient
from scripted_engine import ScriptedEngine

FOUND = "upstream-fails-too crash_only_expected[NotAnInputError]"


def _settled(tmp_path) -> list[FindingEvent]:
    config = CampaignConfig(candidate=MASKED_BY_A_LOOP, out=str(tmp_path), shrink_seconds=60)
    now = time.time()
    events = []
    worker = Worker(WorkerSpec(config, 0, 7, now, now + 120, generate_share=0.9), prepare_target(config),
                    events.append, CaseGuard())
    report = worker.check(looping_and_lenient())
    assert report.signature == FOUND
    assert not settle(worker, report)
    assert {FOUND, "known:ao-lenient-not-an-input"} <= worker.seen  # neither is searched for and shrunk again
    return [e for e in events if isinstance(e, FindingEvent)]


def test_a_worker_sends_a_masked_finding_pending_as_found_then_as_the_known_bug_it_shrinks_to(tmp_path):
    pending, shrunk = _settled(tmp_path)
    assert (pending.stage, pending.signature, pending.triage, pending.found_as) == ("pending", FOUND, "new", None)
    assert (shrunk.stage, shrunk.signature, shrunk.triage) == ("shrunk", "known:ao-lenient-not-an-input", "known")
    assert shrunk.known_id == "ao-lenient-not-an-input" and shrunk.found_as == FOUND
    assert shrunk.nodes < pending.nodes
    notes = case_from_json(shrunk.case).info.notes
    assert shrunk.summary.startswith(f"found as {FOUND}: NEW on the case as found") and notes.startswith("found as")


def test_the_driver_records_it_as_known_and_drops_its_copy_as_found(tmp_path):
    events = _settled(tmp_path / "worker")
    config = CampaignConfig(seconds=30, out=str(tmp_path / "out"), quiet=True)
    result = run_campaign(config, engine=ScriptedEngine([[Ready(0), events[0]], [events[1], Progress(0, 2)]]))
    (finding,) = result.findings
    assert finding.signature == "known:ao-lenient-not-an-input" and finding.triage == "known" and finding.shrunk
    assert not list((tmp_path / "out" / "pending").glob("*.json"))  # the copy as found is not left behind
    ((_, case),) = iter_cases(tmp_path / "out")
    assert case.info.title == "ao-lenient-not-an-input" and case.info.notes.startswith(f"found as {FOUND}")
    assert exit_status(result, config) == 0  # nothing new: torchao fails the finding's case the same way


def test_the_shrink_command_follows_it_too_and_says_so(tmp_path, capsys):
    report = check_case(looping_and_lenient(), load_function(MASKED_BY_A_LOOP))
    old = save_case(finding_case(report), tmp_path)
    assert main_shrink([str(old), "--candidate", MASKED_BY_A_LOOP]) == 0
    out = capsys.readouterr().out
    assert f"failure kept while shrinking: {FOUND}" in out
    assert "unmasked: on the smaller case torchao fails the same way: known:ao-lenient-not-an-input" in out
    (new,) = [p for p in tmp_path.glob("*.json") if p != old]
    assert old.is_file() and load_case(new).info.notes.startswith(f"found as {FOUND}")
