"""How the local engine ends its workers: so that a worker's exit code runs (coverage.py's multiprocessing support
saves the worker's data there, ``coverage run -m harness fuzz``). A worker that finished exits on its own (status 0,
not killed); one still running a case when the engine stops is sent SIGTERM, SIGKILL only after the grace period.
"""

from __future__ import annotations

import signal
import time

import pytest

from harness.fuzz.config import CampaignConfig, WorkerSpec
from harness.fuzz.events import BadCandidate, Done, HarnessError, WorkerLost
from harness.fuzz.local import LocalEngine

HANGS = '''
import time


def prepare(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
    while True:
        time.sleep(0.05)
'''


@pytest.mark.slow
def test_stop_lets_a_finished_worker_exit_and_sends_sigterm_to_a_running_one(tmp_path, monkeypatch):
    (tmp_path / "hanging_candidate.py").write_text(HANGS)
    monkeypatch.syspath_prepend(str(tmp_path))  # a spawned worker starts with the driver's sys.path
    scratch = tmp_path / "scratch"
    engine = LocalEngine(case_timeout=600, scratch=scratch)
    now = time.time()
    finishes = CampaignConfig(out=str(tmp_path / "a"), seconds=1, quiet=True)
    hangs = CampaignConfig(candidate="hanging_candidate:prepare", out=str(tmp_path / "b"), seconds=600, quiet=True)
    engine.start(WorkerSpec(finishes, 0, 1, now, now + 1, 0.8, ()))
    engine.start(WorkerSpec(hangs, 1, 2, now, now + 600, 0.8, ()))
    done: set[int] = set()
    deadline = time.time() + 150
    try:
        # worker 0 is past its deadline once it has imported torch; worker 1 hangs in its first case (its clock
        # starts with the case)
        while time.time() < deadline and not (0 in done and engine.case_started(1)):
            for event in engine.events(0.5):
                assert not isinstance(event, (WorkerLost, HarnessError, BadCandidate)), event
                if isinstance(event, Done):
                    done.add(event.worker)
        assert done == {0}
    finally:
        engine.stop(grace=60)  # the finished worker's exit (torch's teardown) takes seconds on a busy machine
    assert engine.exitcode(0) == 0
    assert engine.exitcode(1) == -signal.SIGTERM
    assert engine.running() == 0
