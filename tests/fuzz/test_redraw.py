"""A case the fast search draws is a pure function of the worker's seed and its index, so the local engine keeps
only the index while the case runs and draws the case again when the worker hangs or dies on it
(harness.fuzz.search_fast.case_source / redraw, harness.fuzz.local): the case reported is the very case the
candidate was given, in any process, whatever its hash seed. Cases that are not drawn by index (replayed ones) are
kept in the worker's file, as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.fuzz.config import CampaignConfig, WorkerSpec
from harness.fuzz.events import BadCandidate, HarnessError, WorkerLost
from harness.fuzz.search_fast import redraw, redraw_data, search_fast
from harness.fuzz.session import CaseGuard, Worker
from harness.fuzz.target import Target, Verdict, prepare_target


def _unchecked_target(config) -> Target:
    """The prepare target's cases, each passing at once: the search draws as fast as it can."""
    base = prepare_target(config)
    return Target("unchecked", base.strategy, lambda case: Verdict(case, failed=False), base.finding_case)


class _Recorder(CaseGuard):
    def __init__(self) -> None:
        self.entered: list[tuple] = []

    def enter(self, case, drawn=None) -> None:
        self.entered.append((drawn, case))


def _config(tmp_path, mode: str) -> CampaignConfig:
    return CampaignConfig(candidate="prepare_impl:prepare", out=str(tmp_path), mode=mode,
                          target=f"{__name__}:_unchecked_target")


@pytest.mark.parametrize("mode", ["valid", "mixed"])
def test_each_case_of_the_fast_search_is_drawn_again_from_its_index(tmp_path, mode):
    config, guard = _config(tmp_path, mode), _Recorder()
    now = time.time()
    spec = WorkerSpec(config, 0, 11, now, now + 2.5)  # the search stops SEARCH_MARGIN (1 s) before the end
    search_fast(Worker(spec, _unchecked_target(config), lambda event: None, guard))
    assert len(guard.entered) >= 20
    indexes = [drawn for drawn, _ in guard.entered]
    assert indexes == sorted(set(indexes)) and indexes[0] == 0  # every case told by its index, in order
    for drawn, case in guard.entered[::-1]:  # backwards: a redraw does not depend on the cases drawn before it
        assert redraw(config, 11, drawn) == case
    assert redraw(config, 12, 0) != guard.entered[0][1]  # another worker's seed, other cases


def test_a_redraw_in_another_process_with_another_hash_seed_gives_the_same_case_data():
    config = CampaignConfig(candidate="prepare_impl:prepare", mode="mixed")
    script = ("import json; from harness.fuzz.config import CampaignConfig; "
              "from harness.fuzz.search_fast import redraw_data; "
              "config = CampaignConfig(candidate='prepare_impl:prepare', mode='mixed'); "
              "print(json.dumps([redraw_data(config, 5, i) for i in range(12)]))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True,
                         env=dict(os.environ, PYTHONHASHSEED="12345")).stdout
    there = json.loads(out.strip().splitlines()[-1])
    here = [redraw_data(config, 5, i) for i in range(12)]
    assert there == here
    assert here == [json.loads(json.dumps(case_to_json(redraw(config, 5, i)))) for i in range(12)]


# A candidate that prepares as the reference does, except on its call number CALL: there it writes the names of the
# nodes of the model it was given to SEEN, then aborts or hangs.
FAILS_ON_A_CALL = '''
import json
import os
import time

import prepare_impl

CALLS = [0]


def prepare(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
    CALLS[0] += 1
    if CALLS[0] == {call}:
        with open({seen!r}, "w") as f:
            json.dump([n.name for n in model.graph.nodes], f)
        if {how!r} == "abort":
            os.abort()
        while True:
            time.sleep(0.05)
    return prepare_impl.prepare(model, node_name_to_scope, is_qat)
'''


@pytest.mark.slow  # starts real workers (torch) from the forkserver
@pytest.mark.parametrize("how,source", [("abort", "drawn"), ("hang", "drawn"), ("abort", "replayed")])
def test_a_worker_lost_on_a_case_reports_the_very_case_its_candidate_was_given(tmp_path, monkeypatch, how, source):
    from harness.fuzz.local import LocalEngine

    module = f"fails_on_a_call_{how}_{source}"
    seen = tmp_path / "seen.json"
    call = 3 if source == "drawn" else 1  # the third case drawn (index 2 or more), or the first case replayed
    (tmp_path / f"{module}.py").write_text(FAILS_ON_A_CALL.format(call=call, seen=str(seen), how=how))
    monkeypatch.syspath_prepend(str(tmp_path))  # a worker starts with the driver's sys.path
    replayed = redraw_data(CampaignConfig(mode="valid"), 99, 0)
    config = CampaignConfig(candidate=f"{module}:prepare", out=str(tmp_path / "out"), mode="valid", quiet=True)
    engine = LocalEngine(case_timeout=3, scratch=tmp_path / "scratch")
    now = time.time()
    engine.start(WorkerSpec(config, 0, 21, now, now + 300, 0.8,
                            (("saved.json", replayed),) if source == "replayed" else ()))
    lost: list[WorkerLost] = []
    deadline = time.time() + 240
    try:
        while not lost and time.time() < deadline:
            for event in engine.events(0.5):
                assert not isinstance(event, (HarnessError, BadCandidate)), event
                if isinstance(event, WorkerLost):
                    lost.append(event)
    finally:
        engine.stop(grace=10)
    assert lost, "the worker was not lost"
    event = lost[0]
    assert event.reason == ("crash" if how == "abort" else "timeout") and event.ready
    assert "could not be drawn again" not in event.detail
    assert [n.name for n in case_from_json(event.case).graph.nodes] == json.loads(seen.read_text())
    if source == "replayed":
        assert event.case == replayed


# A target that cannot be loaded once its candidate has run: the engine cannot draw the lost case again.
GONE_AFTER_A_CALL = '''
import os

from harness.fuzz.target import prepare_target

MARKER = {marker!r}


def target(config):
    if os.path.exists(MARKER):
        raise RuntimeError("this target is gone")
    return prepare_target(config)


def prepare(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
    open(MARKER, "w").close()
    os.abort()
'''


@pytest.mark.slow  # starts a real worker (torch) from the forkserver
def test_a_lost_case_that_cannot_be_drawn_again_is_reported_without_a_case_and_says_why(tmp_path, monkeypatch):
    from harness.fuzz.local import LocalEngine

    (tmp_path / "gone_after_a_call.py").write_text(GONE_AFTER_A_CALL.format(marker=str(tmp_path / "marker")))
    monkeypatch.syspath_prepend(str(tmp_path))
    config = CampaignConfig(candidate="gone_after_a_call:prepare", target="gone_after_a_call:target",
                            out=str(tmp_path / "out"), mode="valid", quiet=True)
    engine = LocalEngine(case_timeout=30, scratch=tmp_path / "scratch")
    now = time.time()
    engine.start(WorkerSpec(config, 0, 3, now, now + 300))
    lost: list[WorkerLost] = []
    try:
        while not lost and time.time() < now + 240:
            lost += [e for e in engine.events(0.5) if isinstance(e, WorkerLost)]
    finally:
        engine.stop(grace=10)
    (event,) = lost
    assert event.reason == "crash" and event.case is None
    assert "could not be drawn again: RuntimeError: this target is gone" in event.detail
