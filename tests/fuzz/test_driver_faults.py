"""The driver never dies on worker data: faults injected into a running campaign (an oversized tag, case data that
does not decode, an event of no known kind, findings that cannot be written) are harness errors (exit status 3),
the run goes on to its summary, every finding is kept (as a case, else raw, else in words) and no traceback from
the driver reaches the user."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.case.files import load_case
from harness.fuzz import finding_files
from harness.fuzz.campaign import CampaignConfig, exit_status
from harness.fuzz.launch import run_campaign
from harness.fuzz.events import FindingEvent, Progress, Ready, WorkerLost
from scripted_engine import ScriptedEngine

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def _case_data() -> dict:
    from harness.case.encode import case_to_json

    return case_to_json(load_case(sorted(CORPUS.rglob("*.json"))[0]))


def _event(case, signature="partition[x]", stage="shrunk", worker=0) -> FindingEvent:
    return FindingEvent(worker=worker, stage=stage, kind="divergence", signature=signature, triage="new",
                        known_id=None, known_title=None, link=None, summary="what went wrong", nodes=3,
                        detected=1.0, case=case)


def _run(tmp_path, *batches, out=None):
    """The campaign on ``batches``: its result, exit status and everything it printed."""
    config = CampaignConfig(seconds=30, out=str(out or tmp_path / "out"), quiet=False)
    stream = io.StringIO()
    engine = ScriptedEngine([[Ready(0), Progress(0, 2)], *batches, [Progress(0, 3)]])
    result = run_campaign(config, out=stream, engine=engine)
    text = stream.getvalue()
    assert "Traceback" not in text
    assert result.cases_by_place == {"this machine": 5}  # the events after the fault were handled: the run went on
    assert f"{result.cases} cases in" in text  # the summary
    return result, exit_status(result, config), text


def _raw(result, signature) -> dict:
    (found,) = [f for f in result.findings if f.signature == signature]
    path = Path(found.path)
    assert path.parent.name == "raw" and path.is_file()
    return json.loads(path.read_text())


def test_a_finding_with_an_oversized_tag_is_kept_raw_and_the_run_goes_on(tmp_path):
    """The run that died: a 215-character tag from a worker whose encoder did not keep within the limits."""
    data = _case_data()
    data["info"]["tags"] = ["finding", "t" * 215]
    result, status, text = _run(tmp_path, [_event(data, "long"), _event(_case_data(), "fine")])
    assert status == 3 and list(result.harness_errors) == ["finding not written as a case (CaseFormatError)"]
    assert "info.tags[1]: string too long (215 > 200)" in text
    assert _raw(result, "long")["sent"]["case"] == data  # the data as it came, to be mended by hand
    fine = next(f for f in result.findings if f.signature == "fine")
    assert load_case(fine.path).graph.nodes  # the next finding is written as a case
    assert "long" in text.split("cases in")[-1]  # and both are in the summary table


def test_case_data_that_does_not_decode_is_kept_raw_and_each_error_shown_once(tmp_path):
    broken = [{"format": "pt2e-case/1", "graph": "nope"}, "not a case", {"set": {1, 2}}]
    result, status, text = _run(tmp_path, [_event(c, f"sig{i}") for i, c in enumerate(broken)])
    assert status == 3 and result.harness_errors == {"finding not written as a case (CaseFormatError)": 3}
    assert text.count("HARNESS ERROR (finding not written as a case (CaseFormatError))") == 1
    assert _raw(result, "sig0")["sent"]["case"] == broken[0]
    assert _raw(result, "sig1")["sent"]["case"] == "not a case"
    assert _raw(result, "sig2")["sent"]["case"]["set"] == "{1, 2}"  # what is not JSON, by its repr
    assert len(result.findings) == 3


@dataclass(frozen=True)
class Gossip:
    worker: int


def test_an_event_of_no_known_kind_is_a_harness_error(tmp_path):
    result, status, text = _run(tmp_path, [Gossip(0), object(), Progress(0, "many")])
    assert status == 3
    assert set(result.harness_errors) == {"unknown event Gossip", "unknown event object",
                                          "the driver failed on a Progress event (TypeError)"}
    assert "a worker sent Gossip(worker=0), which is not an event the driver knows" in text


def test_a_finding_the_disk_refuses_is_written_raw(tmp_path, monkeypatch):
    def full(case, directory):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(finding_files, "save_case", full)
    result, status, text = _run(tmp_path, [_event(_case_data())])
    assert status == 3 and list(result.harness_errors) == ["finding not written as a case (OSError)"]
    assert "No space left on device" in text and "written raw" in text
    assert _raw(result, "partition[x]")["sent"]["signature"] == "partition[x]"


def test_a_finding_that_cannot_be_written_at_all_is_still_reported(tmp_path):
    """OUT is a file: neither the case nor its raw copy can be written; the summary is printed, with the finding
    and what went wrong with it."""
    out = tmp_path / "a-file"
    out.write_text("")
    result, status, text = _run(tmp_path, [_event(_case_data())], out=out)
    assert status == 3
    errors = sorted(key.split(" (")[0] for key in result.harness_errors)  # (FileExistsError, NotADirectoryError)
    assert errors == ["finding not written as a case", "finding not written at all",
                      "the findings directory cannot be made"]
    (f,) = result.findings
    assert f.path == "(not written)" and "NOT WRITTEN" in text and "what went wrong" in text
    summary = text.split("cases in")[-1]
    assert "partition" in summary and "(not written)" in summary  # its group, and where it is (nowhere)


def test_a_shrunk_finding_not_written_keeps_its_copy_as_found(tmp_path, monkeypatch):
    """The pending copy went to disk; the shrunk case does not decode and the disk then refuses even the raw
    copy: the copy as found stays, and is the finding."""
    bad = _case_data()
    bad["graph"]["nodes"] = []

    def no_raw(event, out, problem):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(finding_files, "write_raw", no_raw)
    result, status, _ = _run(tmp_path, [_event(_case_data(), stage="pending")], [_event(bad)])
    (f,) = result.findings
    assert status == 3 and Path(f.path).parent.name == "pending" and load_case(f.path).graph.nodes
    assert not f.shrunk


def test_a_lost_worker_whose_case_does_not_decode_is_a_finding_kept_raw(tmp_path):
    lost = WorkerLost(0, "timeout", "a case ran longer than the case time limit (2 s)", {"graph": 1}, ready=True)
    result, status, _ = _run(tmp_path, [lost])
    assert status == 3
    raw = _raw(result, "timeout")
    assert raw["sent"]["case"] == {"graph": 1} and raw["sent"]["kind"] == "timeout"


@pytest.mark.parametrize("signature", ["s" * 215, "s" * 5_000])
def test_a_worker_built_finding_with_a_long_signature_is_written_as_a_case(tmp_path, signature):
    """The cure at its source: the worker's encoder clips the tag, so the driver writes a loadable case (no harness
    error, exit status 1: a new finding)."""
    from harness.case import Info
    from harness.case.decode import case_from_json
    from harness.case.encode import case_to_json

    case = case_from_json(_case_data())
    data = case_to_json(type(case)(case.graph, case.annotations, case.is_qat, case.expected,
                                   Info(title=signature, tags=("finding", signature))))
    result, status, _ = _run(tmp_path, [_event(data, signature)])
    assert status == 1 and not result.harness_errors
    (f,) = result.findings
    assert load_case(f.path).info.tags[1] == signature[:197] + "..."


class FailingEngine(ScriptedEngine):
    """An engine that fails itself (a cluster gone) while the workers run, and again while stopping."""

    def events(self, timeout):
        if not self.script:
            raise ConnectionError("the cluster went away")
        return super().events(timeout)

    def running(self):
        return 1

    def stop(self):
        raise RuntimeError("cannot reach the actors")


def test_an_engine_that_fails_is_a_harness_error_and_the_summary_still_comes(tmp_path):
    config = CampaignConfig(seconds=30, out=str(tmp_path / "out"), quiet=False)
    stream = io.StringIO()
    result = run_campaign(config, out=stream, engine=FailingEngine([[Ready(0), Progress(0, 2)],
                                                                    [_event(_case_data(), "found")]]))
    text = stream.getvalue()
    assert "Traceback" not in text and f"{result.cases} cases in" in text
    assert set(result.harness_errors) == {"engine: ConnectionError", "engine stop: RuntimeError"}
    assert exit_status(result, config) == 3
    (found,) = result.findings
    assert load_case(found.path)  # the finding sent before the failure is on disk


def test_a_node_whose_worker_stopped_before_its_first_progress_report_is_still_listed(tmp_path):
    """``--stop-on-new`` can end a run before a worker's first progress report: its node is listed with the cases
    it reported (none), not left out of the summary (the line read "cases per node: " and nothing)."""
    config = CampaignConfig(seconds=30, out=str(tmp_path / "out"), quiet=False, engine="ray")
    stream = io.StringIO()
    result = run_campaign(config, out=stream, engine=ScriptedEngine([[Ready(0)]]))
    assert result.cases_by_place == {"this machine": 0}
    assert "cases per node: this machine: 0" in stream.getvalue()
