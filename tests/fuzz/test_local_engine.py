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


# A candidate that writes down, on its first call, whether the worker's garbage collector is on and whether what the
# worker inherited from its server is frozen; then prepares as the reference does.
COLLECTOR_PROBE = '''
import gc
import json
import os

import prepare_impl

SEEN = {seen!r}


def prepare(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
    if not os.path.exists(SEEN):
        with open(SEEN + ".tmp", "w") as f:
            json.dump({{"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}}, f)
        os.replace(SEEN + ".tmp", SEEN)
    return prepare_impl.prepare(model, node_name_to_scope, is_qat)
'''


def test_the_workers_server_imports_with_the_collector_off():
    import subprocess
    import sys

    from harness.fuzz.local import PRELOAD

    assert PRELOAD[0] == "harness.fuzz.collector_off"
    code = "import gc; assert gc.isenabled(); import harness.fuzz.collector_off; print(gc.isenabled())"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


@pytest.mark.slow  # starts a real worker (torch) from the forkserver
def test_a_worker_forked_from_the_server_collects_its_garbage_and_froze_what_it_inherited(tmp_path, monkeypatch):
    import json

    seen = tmp_path / "seen.json"
    (tmp_path / "collector_probe.py").write_text(COLLECTOR_PROBE.format(seen=str(seen)))
    monkeypatch.syspath_prepend(str(tmp_path))
    config = CampaignConfig(candidate="collector_probe:prepare", out=str(tmp_path / "out"), mode="valid", quiet=True)
    engine = LocalEngine(case_timeout=60, scratch=tmp_path / "scratch")
    now = time.time()
    engine.start(WorkerSpec(config, 0, 5, now, now + 120, 0.8, ()))
    deadline = time.time() + 150
    try:
        while not seen.exists() and time.time() < deadline:
            for event in engine.events(0.5):
                assert not isinstance(event, (HarnessError, BadCandidate)), event
    finally:
        engine.stop(grace=10)
    probe = json.loads(seen.read_text())
    assert probe["enabled"] is True
    assert probe["frozen"] > 100_000  # torch and torchao, imported by the server
