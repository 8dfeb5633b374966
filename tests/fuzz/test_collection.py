"""harness.fuzz.collection: a worker runs the cyclic garbage collector between cases (the young generation after
each, the middle one every MIDDLE_EVERY cases, all every FULL_EVERY), with the automatic threshold raised past
what a case allocates, and puts the thresholds back when it ends."""

from __future__ import annotations

import gc
import time

from harness.fuzz.collection import FULL_EVERY, MIDDLE_EVERY, YOUNG_THRESHOLD, between_cases, collecting_between_cases
from harness.fuzz.config import CampaignConfig, WorkerSpec
from harness.fuzz.worker import run_worker


def _generations(run, thresholds: list | None = None) -> list[int]:
    seen: list[int] = []

    def note(phase, info):
        if phase == "start":
            seen.append(info["generation"])
            if thresholds is not None:
                thresholds.append(gc.get_threshold()[0])

    gc.callbacks.append(note)
    try:
        run()
    finally:
        gc.callbacks.remove(note)
    return seen


def test_the_young_generation_after_each_case_and_the_older_ones_now_and_then():
    enabled = gc.isenabled()
    gc.disable()  # only the collections asked for are seen
    try:
        seen = _generations(lambda: [between_cases(n) for n in range(1, FULL_EVERY + 1)])
    finally:
        if enabled:
            gc.enable()
    assert len(seen) == FULL_EVERY
    assert [n + 1 for n, g in enumerate(seen) if g == 2] == [FULL_EVERY]
    assert [n + 1 for n, g in enumerate(seen) if g == 1] == [n for n in range(MIDDLE_EVERY, FULL_EVERY, MIDDLE_EVERY)]


def test_the_threshold_is_raised_within_the_block_and_restored_after():
    before = gc.get_threshold()
    with collecting_between_cases():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before


def test_a_worker_collects_between_its_cases_and_puts_the_thresholds_back():
    before = gc.get_threshold()
    events: list = []
    now = time.time()
    config = CampaignConfig(mode="valid", quiet=True)
    thresholds: list[int] = []
    seen = _generations(lambda: run_worker(WorkerSpec(config, 0, 3, now, now + 6), events.append), thresholds)
    cases = sum(e.cases for e in events if type(e).__name__ == "Progress")
    assert cases > 20
    # between each two cases a collection (a case allocates far fewer than YOUNG_THRESHOLD objects: without them,
    # the raised threshold would collect once in several cases), all while the threshold is raised
    assert seen.count(0) >= cases - 1 - cases // MIDDLE_EVERY
    assert thresholds.count(YOUNG_THRESHOLD) >= cases - 1
    assert gc.get_threshold() == before
