"""Known quantizer bugs in the quantizer campaign (harness.suite.quantizer_triage): a failure is a judged bug of
corpus/quantizer_bugs only when the bug's own case, replayed, still fails the same way, and the failure is the one
the entry records (in any configuration variant); otherwise it stays new."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.check.run import TRIAGE_KNOWN
from harness.corpus.quantizer_bugs import PROJECT_CORPUS, load_entries
from harness.fuzz.config import CampaignConfig
from harness.fuzz.target import load_target
from harness.suite.quantizer_triage import REPLAYS, QuantizerBugTriage

X86 = "harness.quantizers:x86_inductor"
QUANTIZER_TARGET = "harness.suite.fuzz_target:quantizer_target"
ENTRIES = {e.id: e for e in load_entries(PROJECT_CORPUS)}
UNUSED_CONV = ENTRIES["x86-unused-conv"]


class _Replays:
    """A replay that answers ``failure`` and counts its calls."""

    def __init__(self, failure):
        self.failure, self.calls = failure, 0

    def __call__(self, case):
        self.calls += 1
        return self.failure


def test_a_failure_an_entry_records_is_its_bug_in_any_variant_once_its_case_replays():
    replay = _Replays(UNUSED_CONV.failure)
    triage = QuantizerBugTriage(X86, replay)
    bug = triage.known(UNUSED_CONV.failure)
    assert bug is not None and bug.id == "x86-unused-conv" and bug.link == UNUSED_CONV.case.info.link
    assert bug.title.startswith("bug ")
    again = triage.known(f"config:skip_types {UNUSED_CONV.failure}")  # the same bug in another variant
    assert again is not None and again.id == bug.id
    assert replay.calls == 1  # replayed once, then remembered


def test_a_failure_no_entry_records_or_of_another_factory_stays_new():
    replay = _Replays(UNUSED_CONV.failure)
    assert QuantizerBugTriage(X86, replay).known("annotate: annotate() raised KeyError in _annotate_conv2d") is None
    other = QuantizerBugTriage("harness.mutants.quantizers:x86_max_pool_ceil_mode", replay)
    assert other.known(UNUSED_CONV.failure) is None  # a copy of the quantizer is not the judged code
    assert replay.calls == 0


def test_an_entry_whose_case_no_longer_fails_that_way_explains_nothing():
    """Upstream fixed it (or it fails otherwise now): the new failure is not that bug, it is new."""
    for answer in (None, "annotate: annotate() raised IndexError in somewhere_else"):
        replay = _Replays(answer)
        assert QuantizerBugTriage(X86, replay).known(UNUSED_CONV.failure) is None
        assert replay.calls == REPLAYS


def test_without_a_corpus_nothing_is_known(tmp_path: Path):
    assert QuantizerBugTriage(X86, _Replays(UNUSED_CONV.failure), corpus=tmp_path / "none").known(
        UNUSED_CONV.failure) is None


def test_the_campaign_target_names_a_judged_bug_by_its_id_and_a_new_failure_stays_new():
    """The x86 quantizer's target on the entry's own case (a conv whose result is unused): known, named
    x86-unused-conv, with its link; the same case under the mutant factory of another module: new."""
    target = load_target(CampaignConfig(target=QUANTIZER_TARGET, quantizer=X86))
    verdict = target.check(UNUSED_CONV.case)
    assert verdict.failed and verdict.triage == TRIAGE_KNOWN and verdict.signature == "x86-unused-conv"
    assert verdict.known.link == UNUSED_CONV.case.info.link and "x86-unused-conv" in verdict.case.info.tags
    fresh = replace(UNUSED_CONV.case, info=replace(UNUSED_CONV.case.info, title="", kind="finding"))
    assert target.check(fresh).signature == "x86-unused-conv"  # the graph fails so, whatever its info says


@pytest.mark.parametrize("entry", [e for e in ENTRIES.values() if e.quantizer == X86 and not e.case.is_qat
                                   and not e.case.quantizer_config], ids=lambda e: e.id)
def test_each_x86_bug_is_told_apart(entry):
    """The failures of two x86 bugs that raise IndexError in annotate() differ (the function that raised is in
    the signature), so each is its own known bug, not the first one listed."""
    verdict = load_target(CampaignConfig(target=QUANTIZER_TARGET, quantizer=X86)).check(entry.case)
    assert verdict.triage == TRIAGE_KNOWN and verdict.signature == entry.id, (verdict.signature, verdict.triage)


def test_an_unjudged_failure_of_torchaos_steps_recorded_as_a_bug_is_that_bug():
    """Bug 20 (torchao's QAT conv-bn fusion on a conv annotated with no specs) fails in a step of torchao's around
    the quantizer, which the campaign otherwise reports as unjudged: its entry's case is that known bug."""
    entry = ENTRIES["ao-qat-fusion-conv-without-specs"]
    verdict = load_target(CampaignConfig(target=QUANTIZER_TARGET, quantizer=entry.quantizer)).check(entry.case)
    assert verdict.triage == TRIAGE_KNOWN and verdict.signature == entry.id, (verdict.signature, verdict.triage)
