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
  status ``fixed`` or ``still failing`` as recorded. A conformance case that records no failure (``upstream``
  empty) ``passes``: the corpus records torchao's failures, and the corpus replay test asserts that torchao agrees
  with the reference on every other conformance case;
* quantizer bugs (``kind="quantizer_bug"``, ``corpus/quantizer_bugs``): class ``quantizer bug: <failure>``, status
  ``fixed`` or ``still failing`` as recorded (``upstream``). ``unknown`` otherwise (an upstream bug without a state, an
  unrecognised state, a case of another kind).

Each verdict also has a ``group``, the row of the report's tables: for a fuzz finding, the root-cause key of its
signature (:func:`harness.check.groups.group_key`; the signature is the title the campaign gives it, ``known:ID``
for a known bug; when the title is no signature, the class); for any other case, its class. Among the cases of one
report (:func:`regroup`), a NEW finding on a case torchao fails too joins the group its failure alone has, when another
NEW finding has that group (:func:`harness.check.groups.group_keys`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from harness import case as C
from harness.check.groups import UPSTREAM_FAILS_TOO, group_key, group_keys, is_signature, known_signature

__all__ = ["Verdict", "verdict", "regroup", "STATUSES", "NEW", "REFERENCE", "KNOWN", "STILL_FAILING", "FIXED", "PASSES",
           "UNKNOWN"]

NEW, REFERENCE, KNOWN = "new", "suspected reference bug", "known upstream bug"
STILL_FAILING, FIXED, PASSES, UNKNOWN = "still failing", "fixed", "passes", "unknown"
STATUSES = (NEW, REFERENCE, KNOWN, STILL_FAILING, FIXED, PASSES, UNKNOWN)  # the report's column order

# Tags written by harness.fuzz (its KIND_CRASH / KIND_TIMEOUT; the tools layer may not import harness.fuzz) and by
# the plugin (harness.suite.reporting.failure.save_finding), and the signature prefix of
# harness.check.run.Report.signature.
_CRASH, _TIMEOUT, _PLUGIN, _REFERENCE_DISAGREES = "crash", "timeout", "pt2e-plugin", "reference-disagrees"
_INVARIANT_LINE = re.compile(r"^invariant (\S+): ")
_KIND_LINE = re.compile(r"^([a-z_]+): ")
_UPSTREAM_CLASS = {"crashes": "torchao crashes", "wrong": "torchao gives a wrong result"}


@dataclass(frozen=True)
class Verdict:
    """``klass`` and ``status`` of a case for the report; ``basis`` says, in words, what they were derived from;
    ``group`` is its row in the report's tables (the class when not given)."""

    klass: str
    status: str
    basis: str
    group: str = ""

    def __post_init__(self) -> None:
        if not self.group:
            object.__setattr__(self, "group", self.klass)


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


def _group(info: C.Info, klass: str) -> str:
    """The root-cause key of a fuzz finding, from the signature the campaign titles it with (a known bug's id
    alone for a known prepare finding); the class when the title is no signature."""
    title = " ".join(info.title.split())
    if info.link and title:
        title = known_signature(title)
    return group_key(title) if is_signature(title) else klass


def _finding(info: C.Info) -> Verdict:
    tags = tuple(info.tags)
    if _PLUGIN in tags:
        after = tags[tags.index(_PLUGIN) + 1:]
        check = after[0] if after else "?"
        return Verdict(f"plugin check: {check}", NEW, "a failing check the pytest plugin saved (it saves only "
                       "failures no known bug explains)")
    if _CRASH in tags:
        return Verdict(_CRASH, NEW, "a fuzz finding tagged 'crash': the candidate ended or broke the process",
                       _group(info, _CRASH))
    if _TIMEOUT in tags:
        return Verdict(_TIMEOUT, NEW, "a fuzz finding tagged 'timeout': the candidate ran over the time limit")
    classes = _divergence_classes(info.notes)
    klass = "divergence: " + ", ".join(classes) if classes else "divergence (kind not recorded)"
    if info.link:
        return Verdict(klass, KNOWN, "a fuzz finding torchao reproduced, named by a known upstream bug",
                       _group(info, klass))
    if info.title.startswith(_REFERENCE_DISAGREES) or any(t.startswith(_REFERENCE_DISAGREES) for t in tags):
        return Verdict(klass, REFERENCE, "a fuzz finding where the candidate does what torchao does and the "
                       "reference does not", _group(info, klass))
    return Verdict(klass, NEW, "a fuzz finding no known upstream bug explains", _group(info, klass))


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
    if info.kind == "quantizer_bug":  # corpus/quantizer_bugs: a real quantizer's bug, its failure recorded
        klass = f"quantizer bug: {info.failure}" if info.failure else "quantizer bug"
        if info.upstream == "fixed":
            return Verdict(klass, FIXED, "a quantizer bug the corpus records as fixed upstream")
        if what:
            return Verdict(klass, STILL_FAILING, "a quantizer bug the corpus records as still failing (its replay "
                           "test asserts the recorded failure)")
        return Verdict(klass, UNKNOWN, "a quantizer bug without a recorded upstream status")
    if info.kind == "conformance":
        klass = f"conformance: {what}" if what else "conformance"
        if what:
            return Verdict(klass, STILL_FAILING, f"a conformance case torchao is recorded to fail ({what})")
        if info.upstream == "fixed":
            return Verdict(klass, FIXED, "a conformance case torchao is recorded to pass since a fix")
        if not info.upstream:
            return Verdict(klass, PASSES, "a conformance case that records no failure of torchao (the corpus "
                           "replay test asserts that torchao agrees with the reference on it)")
        return Verdict(klass, UNKNOWN, f"a conformance case with an unrecognised upstream status "
                       f"{info.upstream!r}")
    return Verdict(info.kind or "case", UNKNOWN, f"a case of kind {info.kind!r}: it records no status")


def regroup(judged: list[tuple[C.Case, Verdict]]) -> list[Verdict]:
    """The verdicts of ``judged``, cases shown together: a NEW finding grouped :data:`UPSTREAM_FAILS_TOO` takes the
    group :func:`harness.check.groups.group_keys` gives it among the NEW findings' titles (its failure's own group,
    when another NEW finding has it); every other verdict is returned as it is."""
    def title(case: C.Case) -> str:
        return " ".join(case.info.title.split())

    keys = group_keys(title(c) for c, v in judged if v.status == NEW and is_signature(title(c)))
    return [replace(v, group=keys.get(title(c), v.group)) if v.status == NEW and v.group == UPSTREAM_FAILS_TOO else v
            for c, v in judged]
