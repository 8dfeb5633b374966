"""The searches are registered by name: the command line offers exactly those, each loads, and a search that cannot
draw the target's cases hands over to its fallback with a warning."""

from __future__ import annotations

import dataclasses

from harness.fuzz import searches
from harness.fuzz.cli import fuzz_parser
from harness.fuzz.events import HarnessWarning


def test_the_command_line_offers_every_registered_search():
    (action,) = [a for a in fuzz_parser()._actions if a.dest == "generation"]
    assert set(action.choices) == set(searches.SEARCHES)


def test_every_registered_search_loads_and_its_fallback_is_registered():
    for spec in searches.SEARCHES.values():
        assert callable(spec.load())
        assert spec.fallback is None or spec.fallback in searches.SEARCHES
        assert all(issubclass(e, BaseException) for e in spec.unsupported_error())


class _Session:
    me = 0

    def __init__(self):
        self.events, self.ran = [], []

    def emit(self, event):
        self.events.append(event)


class Unsupported(Exception):
    pass


def _refuses(worker):
    worker.ran.append("first")
    raise Unsupported("cannot draw floats")


def _second(worker):
    worker.ran.append("second")


def test_a_search_that_cannot_draw_the_cases_hands_over_to_its_fallback(monkeypatch):
    here = f"{__name__}"
    registry = {
        "first": searches.SearchSpec("first", f"{here}:_refuses", "refuses", unsupported=f"{here}:Unsupported",
                                     fallback="second"),
        "second": searches.SearchSpec("second", f"{here}:_second", "runs"),
    }
    monkeypatch.setattr(searches, "SEARCHES", registry)
    session = _Session()
    searches.run_search(session, "first")
    assert session.ran == ["first", "second"]
    (warning,) = session.events
    assert isinstance(warning, HarnessWarning) and "goes on with --generation second" in warning.text
    # without a fallback the refusal is the caller's to handle
    monkeypatch.setitem(registry, "first", dataclasses.replace(registry["first"], fallback=None))
    try:
        searches.run_search(_Session(), "first")
    except Unsupported:
        pass
    else:
        raise AssertionError("the refusal was swallowed")
