"""The class and the status of a corpus case in the HTML report, derived only from what the case records.

Rule: the verdict reads the case's ``info`` as its writers fill it, and says ``unknown`` rather than guess:

* fuzz findings (``kind="finding"``, written by ``harness.fuzz``): tag ``crash`` or ``timeout`` is that class;
  otherwise the class is the divergence kinds and violated invariants named by the notes (``Report.summary``:
  one ``<kind>: ...`` or ``invariant <check>: ...`` line each). Status: ``known upstream bug`` when the finding
  carries the bug's link (set only when torchao reproduced the failure), ``suspected reference bug`` when its
  signature says the reference disagrees with torchao, else ``new``;
* pytest plugin findings (tag ``pt2e-plugin``, then the check's name): class ``plugin check: <check>``, status
  ``new`` (the plugin saves only failures no known bug explains);
* corpus upstream bugs and conformance cases: the class says what torchao does (``upstream``: crashes, wrong);
  status ``fixed`` or ``still failing`` as recorded, ``unknown`` when nothing is recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness import case as C

__all__ = ["Verdict", "verdict", "STATUSES", "NEW", "REFERENCE", "KNOWN", "STILL_FAILING", "FIXED", "UNKNOWN"]

NEW, REFERENCE, KNOWN = "new", "suspected reference bug", "known upstream bug"
STILL_FAILING, FIXED, UNKNOWN = "still failing", "fixed", "unknown"
STATUSES = (NEW, REFERENCE, KNOWN, STILL_FAILING, FIXED, UNKNOWN)  # the report's column order

# Tags written by harness.fuzz (its KIND_CRASH / KIND_TIMEOUT; the tools layer may not import harness.fuzz) and by
# the plugin (harness.suite.report.save_finding), and the signature prefix of harness.check.run.Report.signature.
_CRASH, _TIMEOUT, _PLUGIN, _REFERENCE_DISAGREES = "crash", "timeout", "pt2e-plugin", "reference-disagrees"
_INVARIANT_LINE = re.compile(r"^invariant (\S+): ")
_KIND_LINE = re.compile(r"^([a-z_]+): ")
_UPSTREAM_CLASS = {"crashes": "torchao crashes", "wrong": "torchao gives a wrong result"}


@dataclass(frozen=True)
class Verdict:
    """``klass`` and ``status`` of a case for the report; ``basis`` says, in words, what they were derived from."""

    klass: str
    status: str
    basis: str


def _divergence_kinds() -> tuple[str, ...]:
    # Imported here, not at the top: harness.check.compare imports torch, and ``harness.__main__`` imports the
    # report command at start-up for every command (``python -m harness --help`` stays fast).
    from harness.check.compare import KINDS

    return tuple(KINDS)


def _divergence_classes(notes: str) -> list[str]:
    """The divergence kinds (in ``KINDS`` order) and then the violated invariants (sorted) that the notes of a fuzz
    finding name: the same failure always gets the same class."""
    kinds = _divergence_kinds()
    found_kinds: set[str] = set()
    invariants: set[str] = set()
    for line in notes.splitlines():
        invariant = _INVARIANT_LINE.match(line)
        kind = _KIND_LINE.match(line)
        if invariant:
            invariants.add(f"invariant:{invariant.group(1)}")
        elif kind and kind.group(1) in kinds:
            found_kinds.add(kind.group(1))
    return [k for k in kinds if k in found_kinds] + sorted(invariants)


def _finding(info: C.Info) -> Verdict:
    tags = tuple(info.tags)
    if _PLUGIN in tags:
        after = tags[tags.index(_PLUGIN) + 1:]
        check = after[0] if after else "?"
        return Verdict(f"plugin check: {check}", NEW, "a failing check the pytest plugin saved (it saves only "
                       "failures no known bug explains)")
    if _CRASH in tags:
        return Verdict(_CRASH, NEW, "a fuzz finding tagged 'crash': the candidate ended or broke the process")
    if _TIMEOUT in tags:
        return Verdict(_TIMEOUT, NEW, "a fuzz finding tagged 'timeout': the candidate ran over the time limit")
    classes = _divergence_classes(info.notes)
    klass = "divergence: " + ", ".join(classes) if classes else "divergence (kind not recorded)"
    if info.link:
        return Verdict(klass, KNOWN, "a fuzz finding torchao reproduced, named by a known upstream bug")
    if info.title.startswith(_REFERENCE_DISAGREES) or any(t.startswith(_REFERENCE_DISAGREES) for t in tags):
        return Verdict(klass, REFERENCE, "a fuzz finding where the candidate does what torchao does and the "
                       "reference does not")
    return Verdict(klass, NEW, "a fuzz finding no known upstream bug explains")


def verdict(case: C.Case) -> Verdict:
    """The class and the status of ``case`` (see the module docstring)."""
    info = case.info
    if info.kind == "finding":
        return _finding(info)
    what = _UPSTREAM_CLASS.get(info.upstream, "")
    if info.kind == "upstream_bug":
        klass = f"upstream bug: {what}" if what else "upstream bug"
        if info.upstream == "fixed":
            return Verdict(klass, FIXED, "an upstream bug the corpus records as fixed")
        if what:
            return Verdict(klass, STILL_FAILING, f"an upstream bug the corpus records as still failing ({what})")
        return Verdict(klass, UNKNOWN, "an upstream bug without a recorded upstream status")
    if info.kind == "conformance":
        klass = f"conformance: {what}" if what else "conformance"
        if what:
            return Verdict(klass, STILL_FAILING, f"a conformance case torchao is recorded to fail ({what})")
        if info.upstream == "fixed":
            return Verdict(klass, FIXED, "a conformance case torchao is recorded to pass since a fix")
        return Verdict(klass, UNKNOWN, "a conformance case without a recorded upstream status")
    return Verdict(info.kind or "case", UNKNOWN, f"a case of kind {info.kind!r}: it records no status")
