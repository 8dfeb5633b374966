"""Findings by root cause: the coarse group key of a finding's signature (:func:`group_key`).

A signature (:attr:`harness.check.run.Report.signature`, the quantizer target's ``annotate: ...``,
``well_formed: ...`` and ``prepare: ...``, the campaign's ``crash: TYPE`` and ``timeout``) is fine-grained: it
deduplicates findings, one file each, and one bug yields many of them (``partition[merged:edge~out,split:out~out];
structure[chains,attached];unobserved[-out] invariant:...`` and its cousins). A group is what a person reads as one
bug; like ClusterFuzz grouping crashes by type and stack, the key keeps only the first thing that went wrong.

The rule (pure string work: no torch, the campaign's driver calls it):

* ``known:ID``: itself (a known upstream bug is its own group);
* ``timeout``: itself; ``crash: WHAT (...)``: ``crash: WHAT`` (the crash type: the exception that escaped, the
  signal that killed the process, its exit status);
* a NEW prepare divergence on a case the pinned upstream also fails, differently (``upstream-fails-too ...``,
  :data:`UPSTREAM_FAILS_TOO`): that prefix alone. Such a case already trips an upstream bug, and what the candidate
  does there is shaped by that bug as much as by its own (a seeded bug in torchao's prepare, on a case where torchao
  is lenient about a bad annotation, is lenient too and breaks its own rule besides; the bare error it raises on an
  invalid case is another than torchao's). One group says "NEW, on cases where torchao fails as well". Among other
  findings (:func:`group_keys`, :func:`group`), such a finding joins the group its failure alone would have
  (:func:`failure_of`) when a finding on a case torchao gets right has that key: a candidate that always raises
  ``RuntimeError`` is one group, whatever torchao does on each case. Every member keeps its file and its signature;
* a prepare divergence, ``[reference-disagrees|upstream-crash] KIND[shape];... invariant:NAME ...``: its triage
  prefix (an unjudged disagreement with torchao is another question than a failure of the candidate), then

  - the first violated invariant in :data:`INVARIANT_ORDER`, prepare's step order
    (``invariant:one_observer_per_group``); an invariant of no known name comes after those, by name;
  - else, when the candidate raised (``crash_only_actual[T]``, ``different_error[R!=T]``): ``candidate raised``,
    the kind of divergence, whatever the type ``T`` and whatever the reference raised. A seeded bug that leaves a
    wrong sharing map behind raises wherever the map is read next: an ``AssertionError`` here, an
    ``AttributeError`` or a ``RecursionError`` there, one bug; :func:`key_label` shows the types a group holds,
    with their counts, so a second crash is in sight, never hidden. When only the reference raised,
    ``crash_only_expected[R]``: the check the candidate lacks, one group per rule ``R``;
  - else the divergence kinds without their bracketed shapes, in :data:`KIND_ORDER`, joined by ``+``
    (``partition+structure``);

* the quantizer target: ``prepare: SIG`` is ``prepare: `` and the key of ``SIG``; problems of ``annotate`` or
  ``well_formed`` (``" | "``-joined, sorted) are the first of them (``annotate`` comes before ``well_formed``);
* a quantizer campaign's finding under a configuration variant of the quantizer, ``config:NAME SIG``
  (:mod:`harness.suite.fuzz_target`): the key of ``SIG`` (one bug met in several configurations is one group;
  :func:`variant_of` reads the variant back, and the campaign's summary lists a group's variants);
* anything else (not a signature: :func:`is_signature` is false): itself, its whitespace collapsed.

Two findings of one root cause get one key; different first invariants, kinds of divergence, checks the candidate
lacks or triages get different keys, and so do different crash types of the process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, TypeVar

__all__ = ["group_key", "group_keys", "key_label", "raised_types", "failure_of", "is_signature", "known_signature",
           "variant_of", "with_variant", "without_variant", "CONFIG_PREFIX", "Group", "group", "INVARIANT_ORDER",
           "KIND_ORDER", "TRIAGE_PREFIXES", "UPSTREAM_FAILS_TOO", "UPSTREAM_FAILS_TOO_MEANING", "CANDIDATE_RAISED"]

# The invariants in the order of prepare's own steps, the earliest first: a wrong step makes the later ones wrong
# too, so the earliest broken one names the root cause. The sharing analysis (one observer per group, no cyclic
# sharing), then the observers built for the groups (their configuration, derived observers), then their insertion
# (annotated values observed, the graph well formed), then what follows from all of these (the float model's
# semantics, the state saved for convert). Every name of harness.check.invariants.CHECKS (a test checks it).
INVARIANT_ORDER = ("one_observer_per_group", "no_cyclic_sharing", "observer_matches_spec", "derived_sources",
                   "annotated_edges_observed", "graph_well_formed", "float_semantics", "convert_state")

# harness.check.compare.KINDS, in its order (errors first); a test checks that they agree.
KIND_ORDER = ("crash_only_actual", "crash_only_expected", "different_error", "partition", "observer_config",
              "unobserved", "structure", "numerics", "convert_failed")
_CANDIDATE_RAISED = ("crash_only_actual", "different_error")  # shapes TYPE and REFERENCE_TYPE!=TYPE
_RAISED = re.compile(r"(?:crash_only_actual\[|different_error\[[^\]\s!]*!=)([^\]\s]*)\]")
# the key of a prepare divergence where the candidate raised, whatever it raised (the module's rule)
CANDIDATE_RAISED = "candidate raised"

# the signature prefixes of an unjudged triage (harness.check.run.Report.signature)
TRIAGE_PREFIXES = ("reference-disagrees", "upstream-crash")
# the signature prefix of a NEW failure on a case the pinned upstream fails too, differently (Report.signature)
UPSTREAM_FAILS_TOO = "upstream-fails-too"
# what that group holds, in the words the summary and the report show
UPSTREAM_FAILS_TOO_MEANING = "new failures on cases torchao fails too, in another way"

_INVARIANT = re.compile(r"invariant:([A-Za-z_]\w*)")
_KIND = re.compile(r"([a-z_]+)(\[[^\]\s]*\])?")
_QUANTIZER_STAGES = ("annotate: ", "well_formed: ")
CONFIG_PREFIX = "config:"  # a quantizer campaign's signature under a configuration variant: "config:NAME SIG"


def _divergence_key(text: str) -> Optional[str]:
    """The key of ``KIND[shape];... invariant:NAME ...`` (whitespace-separated tokens), ``None`` when ``text`` is not
    of that form."""
    invariants: set[str] = set()
    kinds: dict[str, set[str]] = {}
    for token in text.split():
        invariant = _INVARIANT.fullmatch(token)
        if invariant:
            invariants.add(invariant.group(1))
            continue
        for item in token.split(";"):
            kind = _KIND.fullmatch(item)
            if kind is None or kind.group(1) not in KIND_ORDER + ("none",):
                return None
            kinds.setdefault(kind.group(1), set()).add(kind.group(2) or "")
    if invariants:
        rank = {name: i for i, name in enumerate(INVARIANT_ORDER)}
        return "invariant:" + min(invariants, key=lambda n: (rank.get(n, len(rank)), n))
    if any(k in kinds for k in _CANDIDATE_RAISED):
        return CANDIDATE_RAISED
    if "crash_only_expected" in kinds:
        return "crash_only_expected" + "".join(sorted(kinds["crash_only_expected"]))
    found = [k for k in KIND_ORDER if k in kinds]
    return "+".join(found) if found else None


def _key(sig: str) -> Optional[str]:
    if sig.startswith(CONFIG_PREFIX):
        return _key(without_variant(sig))
    if sig.startswith("known:") or sig == "timeout":
        return sig
    if sig.startswith("crash:"):
        return sig.split(" (")[0]
    if sig.startswith("prepare: "):
        inner = _key(sig[len("prepare: "):])
        return None if inner is None else "prepare: " + inner
    if sig.startswith(_QUANTIZER_STAGES):
        return sig.split(" | ")[0]
    prefix, _, rest = sig.partition(" ")
    if prefix == UPSTREAM_FAILS_TOO:
        return None if _divergence_key(rest) is None else prefix
    if prefix in TRIAGE_PREFIXES:
        inner = _divergence_key(rest)
        return None if inner is None else f"{prefix} {inner}"
    return _divergence_key(sig)


def group_key(signature: str) -> str:
    """The coarse key of a finding's ``signature``: equal for findings of one root cause (the module's rule)."""
    sig = " ".join(signature.split())
    key = _key(sig)
    return sig if key is None else key


def raised_types(signature: str) -> list[str]:
    """The types the candidate raised in a prepare divergence's ``signature`` (``crash_only_actual[T]``,
    ``different_error[R!=T]``: ``T``), sorted; none for any other signature."""
    return sorted(set(_RAISED.findall(signature)))


def key_label(key: str, signatures: Iterable[str]) -> str:
    """How a group of key ``key`` and members ``signatures`` is shown: its key, and for a group of candidates that
    raised, the types they raised with their counts (``candidate raised: AssertionError 3, KeyError 1``)."""
    if not key.endswith(CANDIDATE_RAISED):
        return key
    counts: dict[str, int] = {}
    for sig in signatures:
        for raised in raised_types(sig) or ["?"]:
            counts[raised] = counts.get(raised, 0) + 1
    return f"{key}: " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items(), key=lambda tn: (-tn[1], tn[0])))


def failure_of(signature: str) -> str:
    """``signature`` without the :data:`UPSTREAM_FAILS_TOO` prefix: how the candidate failed, whatever upstream did
    on the case (anything else is returned as it is)."""
    sig = " ".join(signature.split())
    if sig.startswith(CONFIG_PREFIX):
        return with_variant(failure_of(without_variant(sig)), variant_of(sig))
    prefix, _, rest = sig.partition(" ")
    return rest if prefix == UPSTREAM_FAILS_TOO and rest else signature


def group_keys(signatures: Iterable[str]) -> dict[str, str]:
    """Each of ``signatures`` -> the key of its group among them: :func:`group_key`, except that a finding keyed
    :data:`UPSTREAM_FAILS_TOO` takes the key of its failure alone (:func:`failure_of`) when another finding, not so
    keyed, has that key (the module's rule)."""
    keys = {s: group_key(s) for s in signatures}
    own = {k for k in keys.values() if k != UPSTREAM_FAILS_TOO}
    for s, k in keys.items():
        if k == UPSTREAM_FAILS_TOO and group_key(failure_of(s)) in own:
            keys[s] = group_key(failure_of(s))
    return keys


def with_variant(signature: str, variant: str) -> str:
    """``signature`` of a finding made in the configuration variant ``variant``: ``config:NAME SIG`` (``SIG`` itself
    for the default, ``""``)."""
    return f"{CONFIG_PREFIX}{variant} {signature}" if variant else signature


def without_variant(signature: str) -> str:
    """``signature`` without its configuration variant (``config:NAME SIG``: ``SIG``)."""
    return signature.partition(" ")[2] if signature.startswith(CONFIG_PREFIX) else signature


def variant_of(signature: str) -> str:
    """The configuration variant a quantizer campaign's finding was made in (``config:NAME SIG``: ``NAME``), else
    ``"default"``."""
    sig = signature.lstrip()
    return sig.partition(" ")[0][len(CONFIG_PREFIX):] if sig.startswith(CONFIG_PREFIX) else "default"


def known_signature(signature: str) -> str:
    """A known bug's signature in its one form, ``known:ID`` (a configuration variant kept): a known upstream bug's
    finding is signed ``known:ID``, a judged quantizer bug's by its id alone. Anything else is returned as it is."""
    inner = without_variant(signature).strip()
    if not inner or inner.startswith("known:") or " " in inner:
        return signature
    variant = variant_of(signature) if signature.lstrip().startswith(CONFIG_PREFIX) else ""
    return with_variant(f"known:{inner}", variant)


def is_signature(text: str) -> bool:
    """Whether ``text`` is a signature :func:`group_key` reads (else its key is ``text`` itself)."""
    return _key(" ".join(text.split())) is not None


T = TypeVar("T")


@dataclass(frozen=True)
class Group:
    """The findings of one key: ``members`` smallest first (ties in the order given), so ``witness``, the first,
    is the smallest."""

    key: str
    members: tuple

    @property
    def witness(self):
        return self.members[0]

    @property
    def count(self) -> int:
        return len(self.members)


def group(items: Iterable[T], signature: Callable[[T], str], size: Callable[[T], Any]) -> list[Group]:
    """``items`` grouped by their keys among them (:func:`group_keys` of their ``signature``): one :class:`Group` per
    key, in the order of the keys' first items, the members of each sorted by ``size`` (stable), so its witness is
    the smallest."""
    items = list(items)
    keys = group_keys(signature(item) for item in items)
    by_key: dict[str, list[T]] = {}
    for item in items:
        by_key.setdefault(keys[signature(item)], []).append(item)
    return [Group(key, tuple(sorted(members, key=size))) for key, members in by_key.items()]

