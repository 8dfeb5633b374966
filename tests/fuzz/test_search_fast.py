"""The fast search in a worker (harness.fuzz.search_fast, run by harness.fuzz.worker): the fallback to hypothesis for
a strategy the fast source cannot draw, a finding sent pending then shrunk by the greedy reducer, and a strategy's
own bug as a harness error while the search goes on."""

from __future__ import annotations

import time

import pytest
from hypothesis import strategies as st

from harness.case.decode import case_from_json
from harness.fuzz.config import CampaignConfig, WorkerSpec
from harness.fuzz.events import FindingEvent, HarnessError, HarnessWarning, Progress, Ready
from harness.fuzz.target import Target, finding_case, prepare_target
from harness.fuzz.worker import run_worker
from one_crash_findings import one_crash_findings


def _floats_target(config) -> Target:
    """A prepare target whose cases come through a strategy the fast source cannot draw."""
    base = prepare_target(config)
    strategy = st.floats(0, 1).flatmap(lambda _: base.strategy)
    return Target("floats first", strategy, base.check, finding_case)


@pytest.mark.slow  # a worker for 8 s
def test_a_strategy_the_fast_source_cannot_draw_sends_the_worker_to_hypothesis_with_a_warning(tmp_path):
    config = CampaignConfig(candidate="prepare_impl:prepare", out=str(tmp_path), mode="valid", round_size=5,
                            target=f"{__name__}:_floats_target")
    now = time.time()
    events = []
    run_worker(WorkerSpec(config, 0, 3, now, now + 8), events.append)
    assert isinstance(events[0], Ready)
    warnings = [e.text for e in events if isinstance(e, HarnessWarning)]
    assert any("--generation fast cannot draw" in w and "FloatStrategy" in w for w in warnings), warnings
    assert sum(e.cases for e in events if isinstance(e, Progress)) > 0  # hypothesis went on checking cases
    assert not [e for e in events if isinstance(e, FindingEvent)]


def mutant_always_crashes(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
    raise RuntimeError("broken prepare")


@pytest.mark.slow  # a worker for 20 s
def test_a_fast_worker_sends_the_finding_pending_then_shrunk_by_the_greedy_reducer(tmp_path):
    config = CampaignConfig(candidate=f"{__name__}:mutant_always_crashes", out=str(tmp_path), mode="valid",
                            shrink_seconds=15)
    now = time.time()
    events = []
    run_worker(WorkerSpec(config, 0, 7, now, now + 20, generate_share=0.5), events.append)
    findings = one_crash_findings(events, "RuntimeError")  # the same crash everywhere: one group
    assert [f.stage for f in findings] == ["pending", "shrunk"]
    pending, shrunk = (case_from_json(f.case) for f in findings)
    assert findings[1].triage == "new" and "RuntimeError" in shrunk.info.notes
    # a crash on every case: the reducer ends at (nearly) nothing left to remove
    assert len([n for n in shrunk.graph.nodes if n.op == "call_function"]) <= 1 < len(pending.graph.nodes)
    assert not list(tmp_path.iterdir())  # the worker writes nothing: the driver does


def _flaky_target(config) -> Target:
    """A prepare target whose strategy raises on one case in four (a bug of a strategy)."""
    base = prepare_target(config)

    @st.composite
    def flaky(draw):
        if draw(st.integers(0, 3)) == 3:
            raise ValueError("a strategy's own bug")
        return draw(base.strategy)

    return Target("flaky strategy", flaky(), base.check, finding_case)


@pytest.mark.slow  # a worker for 8 s
def test_a_strategy_that_raises_is_a_harness_error_and_the_search_goes_on(tmp_path):
    config = CampaignConfig(candidate="prepare_impl:prepare", out=str(tmp_path), mode="valid",
                            target=f"{__name__}:_flaky_target")
    now = time.time()
    events = []
    run_worker(WorkerSpec(config, 0, 3, now, now + 8), events.append)
    errors = [e for e in events if isinstance(e, HarnessError)]
    assert errors and all("ValueError" in e.key for e in errors)
    checked = sum(e.cases for e in events if isinstance(e, Progress))
    assert checked > len(errors) > 0  # it kept drawing and checking after the first error
    assert time.time() - now > 6  # it ran to its deadline
