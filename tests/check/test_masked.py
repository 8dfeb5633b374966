"""A failure torchao masks (harness.check.masked): a NEW failure on a case torchao fails otherwise shrinks to a case
torchao fails the same way, and is then that case's verdict; a failure holding more than torchao's never does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.case import NodeAnnotation
from harness.check.masked import unmasked
from harness.check.run import UPSTREAM, check_case, load_function
from harness.fuzz.reduce import shrink_case, size
from masked_cases import I8, MASKED_BY_A_LOOP, MERGES_WRONGLY, fixed_output_with_edge_from, looping_and_lenient


def _check(candidate: str):
    prepare = load_function(candidate)
    return lambda case: check_case(case, prepare)


def test_the_case_as_found_is_new_only_because_torchao_fails_it_otherwise():
    report = _check(MASKED_BY_A_LOOP)(looping_and_lenient())
    assert report.signature == "upstream-fails-too crash_only_expected[NotAnInputError]"
    assert report.failure == "crash_only_expected[NotAnInputError]" and report.triage == "new"
    assert report.upstream.error is not None  # torchao raised on it: it was not lenient there
    torchao = _check(UPSTREAM)(looping_and_lenient())
    assert torchao.failed and torchao.failure != report.failure


def test_shrinking_follows_the_failure_to_a_case_torchao_fails_the_same_way():
    check, case = _check(MASKED_BY_A_LOOP), looping_and_lenient()
    found = check(case).signature
    small, last, _ = shrink_case(case, check, found, unmasks=unmasked)
    assert last is not None and last.signature == "known:ao-lenient-not-an-input"
    assert size(small) < size(case)
    # the verdict is earned on the smaller case: torchao itself, run on it, fails exactly so
    torchao = _check(UPSTREAM)(small)
    assert torchao.signature == "known:ao-lenient-not-an-input" and torchao.failure == last.report.failure
    # without the move, the reducer keeps the failure as found: a NEW one, since torchao keeps failing otherwise
    kept, _, _ = shrink_case(case, check, found)
    assert check(kept).triage == "new" and check(kept).signature == found


def test_a_failure_holding_more_than_torchaos_is_never_unmasked():
    """The other mutant merges the entry's spec into ``sigmoid``'s fixed-qparams group: lenient as torchao is, and
    wrong by torchao's own groups besides. No smaller case makes torchao fail that way."""
    case = fixed_output_with_edge_from("sigmoid")
    check = _check(MERGES_WRONGLY)
    report = check(case)
    assert report.signature.startswith("upstream-fails-too ") and "invariant:observer_matches_spec" in report.failure
    _, last, _ = shrink_case(case, check, report.signature, unmasks=unmasked)
    assert last is None or last.signature == report.signature


@pytest.mark.parametrize("signature", ["crash_only_expected[NotAnInputError]",
                                       "reference-disagrees crash_only_expected[NotAnInputError]",
                                       "upstream-fails-too crash_only_expected[NotAnInputError] invariant:x"])
def test_only_the_failure_as_found_under_upstream_fails_too_moves(signature):
    known = check_case(replace(looping_and_lenient(), annotations=(NodeAnnotation("conv2d", (("topk", I8),)),)),
                       load_function(UPSTREAM))
    assert known.signature == "known:ao-lenient-not-an-input"
    assert unmasked(known, "upstream-fails-too " + known.failure)
    assert not unmasked(known, signature)
    new = check_case(looping_and_lenient(), load_function(MASKED_BY_A_LOOP))
    assert not unmasked(new, new.signature)  # torchao does not fail this case the same way
