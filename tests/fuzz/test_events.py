"""The campaign's events (harness.fuzz.events): every one is a WorkerEvent naming its worker, travels between
processes (pickled), is equal only to an event of its own class, and is handled by the kind its class names."""

from __future__ import annotations

import pickle

import pytest

from harness.fuzz import events as ev

EVENTS = [
    ev.Ready(0), ev.Done(0), ev.BadCandidate(0, "no such function"), ev.HarnessWarning(0, "careful"),
    ev.HarnessError(0, "KeyError at x.py:1", "Traceback ..."), ev.Progress(0, 12), ev.Reach(0, ("pkg/a.py:3",)),
    ev.FindingEvent(worker=0, stage=ev.STAGE_PENDING, kind=ev.KIND_DIVERGENCE, signature="s", triage="new",
                    known_id=None, known_title=None, link=None, summary="", nodes=3, detected=1.0, case={}),
    ev.ReplayResult(0, "saved.json", True, "s", "new", None, "", 3),
    ev.WorkerLost(0, ev.KIND_CRASH, "killed", None, True),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_an_event_names_its_worker_and_survives_the_trip_between_processes(event):
    assert isinstance(event, ev.WorkerEvent) and event.worker == 0
    copy = pickle.loads(pickle.dumps(event))
    assert copy == event and type(copy) is type(event) and repr(copy) == repr(event)


def test_events_of_the_same_fields_but_other_kinds_are_not_equal():
    assert ev.Ready(1) != ev.Done(1)
    assert ev.BadCandidate(1, "x") != ev.HarnessWarning(1, "x")
    assert ev.Ready(1) == ev.Ready(1) and ev.Ready(1) != ev.Ready(2)
    assert repr(ev.Done(3)) == "Done(worker=3)"
    with pytest.raises(AttributeError):  # frozen, as every event
        ev.Ready(1).worker = 2


def test_the_kind_of_an_event_is_its_class_in_snake_case():
    assert [ev.event_kind(e) for e in EVENTS] == [
        "ready", "done", "bad_candidate", "harness_warning", "harness_error", "progress", "reach", "finding",
        "replay_result", "worker_lost"]
