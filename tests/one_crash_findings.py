"""The findings a worker sends for a candidate that raises one error on every case, shared by the worker tests
(``tests/fuzz/test_campaign.py``, ``tests/fuzz/test_search_fast.py``)."""

from __future__ import annotations

from harness.check.groups import CANDIDATE_RAISED, UPSTREAM_FAILS_TOO, group_keys, key_label
from harness.fuzz.events import FindingEvent


def one_crash_findings(events: list, error: str) -> list[FindingEvent]:
    """The finding events of the crash's own signature, after checking that the worker sent no other than it and,
    when it drew a case torchao fails too, that one signed ``upstream-fails-too`` (one group of the two)."""
    findings = [e for e in events if isinstance(e, FindingEvent)]
    plain, signatures = f"crash_only_actual[{error}]", {f.signature for f in findings}
    assert plain in signatures and signatures <= {plain, f"{UPSTREAM_FAILS_TOO} {plain}"}, signatures
    assert set(group_keys(signatures).values()) == {CANDIDATE_RAISED}
    assert key_label(CANDIDATE_RAISED, signatures).startswith(f"{CANDIDATE_RAISED}: {error} ")
    return [f for f in findings if f.signature == plain]
