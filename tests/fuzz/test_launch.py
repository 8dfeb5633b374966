"""harness.fuzz.launch: a Ctrl-C or SIGTERM that comes before the driver's run loop takes charge (while the workers'
server starts, the saved cases load, or the first line is printed) still ends the run as interrupted, with its
summary and no worker started (it once escaped with a traceback, and the process died of SIGINT)."""

from __future__ import annotations

import io

import pytest

from harness.fuzz import campaign
from harness.fuzz.campaign import CampaignConfig, exit_status
from harness.fuzz.config import EXIT_INTERRUPTED
from harness.fuzz.events import Progress, Ready
from harness.fuzz.launch import run_campaign
from harness.fuzz.terminate import Terminated
from scripted_engine import ScriptedEngine


def _engine() -> ScriptedEngine:
    """One worker, one case."""
    return ScriptedEngine([[Ready(0), Progress(0, 1)]])


class InterruptedOnce(io.StringIO):
    """An output stream that raises ``error`` on the first write of a line starting with ``prefix``."""

    def __init__(self, prefix, error):
        super().__init__()
        self.prefix, self.error = prefix, error

    def write(self, text):
        if self.error is not None and text.startswith(self.prefix):
            error, self.error = self.error, None
            raise error
        return super().write(text)


@pytest.mark.parametrize("error, why", [(KeyboardInterrupt(), "Ctrl-C"), (Terminated(), "SIGTERM")])
def test_an_interrupt_while_the_first_line_is_printed_ends_the_run_at_once(tmp_path, error, why):
    engine, out, config = _engine(), InterruptedOnce("fuzzing ", error), CampaignConfig(seconds=30, out=str(tmp_path))
    result = run_campaign(config, out=out, engine=engine)
    assert result.interrupted and exit_status(result, config) == EXIT_INTERRUPTED
    assert engine.started == [] and engine.stopped == 1 and result.cases == 0
    text = out.getvalue()
    assert f"interrupted ({why}): stopping the workers" in text and "interrupted: 0 cases" in text


def test_an_interrupt_while_the_saved_cases_load_ends_the_run_at_once(tmp_path, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(campaign, "saved_cases", interrupted)
    engine, out, config = _engine(), io.StringIO(), CampaignConfig(seconds=30, out=str(tmp_path), replay=("corpus",))
    result = run_campaign(config, out=out, engine=engine)
    assert result.interrupted and exit_status(result, config) == EXIT_INTERRUPTED and engine.started == []
    assert "interrupted (Ctrl-C)" in out.getvalue() and "interrupted: 0 cases" in out.getvalue()


def test_without_an_interrupt_the_run_goes_on(tmp_path):
    engine, out = _engine(), io.StringIO()
    result = run_campaign(CampaignConfig(seconds=30, out=str(tmp_path / "out")), out=out, engine=engine)
    assert not result.interrupted and result.cases == 1 and len(engine.started) == 1
    assert out.getvalue().startswith("fuzzing ")


@pytest.mark.parametrize("error", [KeyboardInterrupt(), Terminated()])
def test_an_interrupt_while_the_summary_prints_cuts_it_short_without_a_traceback(tmp_path, error):
    """The run is over and its findings are on disk: it counts as interrupted, with one line saying so."""
    engine, out, config = _engine(), InterruptedOnce("\n1 cases in ", error), CampaignConfig(seconds=30,
                                                                                            out=str(tmp_path))
    result = run_campaign(config, out=out, engine=engine)
    assert result.interrupted and exit_status(result, config) == EXIT_INTERRUPTED and result.cases == 1
    assert out.error is None  # the summary's write was the one interrupted
    assert out.getvalue().rstrip().endswith(f"interrupted while printing the summary: every finding is on disk under "
                                            f"{tmp_path}")
