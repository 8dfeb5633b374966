"""``run_campaign``: one campaign, from its start to its summary, with Ctrl-C honoured throughout.

The rule: once ``run_campaign`` is running, a Ctrl-C (or a SIGTERM: :mod:`harness.fuzz.terminate`) ends the run as an
interrupted one: the workers, if any, stopped, the summary so far printed, the exit status 130 (interrupted). The
driver's run loop (:meth:`harness.fuzz.campaign._Driver.run`) handles an interrupt while the workers run; one that
comes before it takes charge (while the workers' server starts, the saved cases load, or the first line is
printed) is kept and handed to it, and the run stops at once. Before, such an early interrupt escaped with a
traceback and the process died of SIGINT (exit status -2) without a summary. One that comes while the summary prints
cuts it short: the run counts as interrupted (its findings are on disk already), without a traceback.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from harness.fuzz.campaign import _Driver
from harness.fuzz.config import CampaignConfig, CampaignResult, summary_table
from harness.fuzz.engine import Engine
from harness.fuzz.local import LocalEngine
from harness.fuzz.terminate import sigterm_interrupts

__all__ = ["run_campaign"]


def _first_words(driver: _Driver, config: CampaignConfig, local: bool) -> None:
    """The findings directory made, and the run's first line (what, how long, where the findings go)."""
    try:
        driver.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # the findings cannot be written: the run goes on, each finding kept as it can be
        driver._error("the findings directory cannot be made", f"{config.out}: {e}")
    driver.say(f"fuzzing {config.candidate} against the reference for {config.seconds:g} s in all (seed "
               f"{driver.seed}, {config.jobs} job(s), mode {config.mode}, {config.generation} generation, case "
               f"time limit {config.case_timeout:g} s), findings -> {config.out}"
               + (f", the workers' own output -> {Path(config.out) / 'logs'}" if local else ""))


def run_campaign(config: CampaignConfig, out=None, engine: Optional[Engine] = None,
                 started: Optional[float] = None) -> CampaignResult:
    """Run the campaign; prints progress and findings to ``out`` as they come, and the summary at the end.

    ``engine`` runs the workers (default: a :class:`LocalEngine`, one process per job); ``started`` is when the
    budget started (default: now; the command line passes the start of the process).
    """
    started = started if started is not None else time.time()
    stream = out if out is not None else sys.stdout
    local = engine is None
    scratch = Path(tempfile.mkdtemp(prefix="harness-fuzz-"))
    driver: Optional[_Driver] = None
    early: Optional[KeyboardInterrupt] = None
    try:
        with sigterm_interrupts():
            try:
                if local:  # first: its workers' server imports torch while the driver loads the saved cases
                    engine = LocalEngine(config.case_timeout, scratch)
                driver = _Driver(config, stream, started)
                _first_words(driver, config, local)
            except KeyboardInterrupt as e:  # not yet the run loop's: handed to it
                early = e
            if driver is None:  # interrupted before the driver was made: one that reads no saved case
                driver = _Driver(config, stream, started, load_saved=False)
            result = driver.run(engine, interrupted=early)
            _summary(driver, result, config)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _summary(driver: _Driver, result: CampaignResult, config: CampaignConfig) -> None:
    """Print the summary; an interrupt meanwhile ends it with one line and marks the run interrupted."""
    try:
        driver.say(summary_table(result, config), always=True)
    except KeyboardInterrupt:  # Terminated (SIGTERM) is one too
        result.interrupted = True
        driver.say(f"\ninterrupted while printing the summary: every finding is on disk under {config.out}",
                   always=True)
