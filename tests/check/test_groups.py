"""harness.check.groups: the root-cause key of a finding's signature."""

from __future__ import annotations

import os

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import pytest

from harness.check.compare import KINDS
from harness.check.groups import (INVARIANT_ORDER, KIND_ORDER, failure_of, group, group_key, group_keys, is_signature,
                                  key_label, known_signature, raised_types)
from harness.check.invariants import CHECKS

BOTH = "invariant:annotated_edges_observed invariant:one_observer_per_group"


def test_the_orders_name_every_invariant_and_kind():
    assert sorted(INVARIANT_ORDER) == sorted(CHECKS) and KIND_ORDER == tuple(KINDS)


@pytest.mark.parametrize("a,b", [
    # one seeded bug (a mutant that splits a sharing group): many shapes, one first invariant
    (f"partition[merged:edge~out,split:out~out];structure[chains,attached];unobserved[-out] {BOTH}",
     "observer_config[derived_from];partition[split:edge~edge];structure[nodes] invariant:one_observer_per_group"),
    (f"partition[split:edge~out];structure[chains,nodes] {BOTH} invariant:observer_matches_spec",
     "partition[split:edge~edge]  invariant:one_observer_per_group"),
    # no invariant: the kinds without their shapes
    ("partition[split:edge~out];structure[chains,nodes]", "partition[merged:out~out,split:edge~edge];structure[nodes]"),
    # the candidate raises, whatever the reference raised and whatever the type (one seeded bug raises here and
    # there: an AssertionError, an AttributeError, a RecursionError)
    ("crash_only_actual[AttributeError]", "different_error[CyclicSharingError!=AttributeError]"),
    ("different_error[DerivedCycleError!=AttributeError]", "different_error[NotAnInputError!=AttributeError]"),
    ("crash_only_actual[KeyError]", "crash_only_actual[AttributeError]"),
    ("crash_only_actual[AssertionError]", "different_error[CyclicSharingError!=RecursionError]"),
    ("reference-disagrees partition[split:edge~out] invariant:one_observer_per_group",
     "reference-disagrees partition[merged:out~out];unobserved[+edge] invariant:one_observer_per_group"),
    ("crash: SystemExit (exit code 3)", "crash: SystemExit"),
    ("prepare: partition[split:edge~out] " + BOTH, "prepare: unobserved[-out] invariant:one_observer_per_group"),
    ("well_formed: CyclicSharingError | well_formed: _ has no spec", "well_formed: CyclicSharingError"),
    # NEW, on a case torchao fails too (differently): one group, whatever the candidate did there
    ("upstream-fails-too crash_only_actual[AssertionError]", "upstream-fails-too different_error[A!=KeyError]"),
    ("upstream-fails-too crash_only_expected[NotAnInputError]",
     "upstream-fails-too partition[merged:edge~edge];structure[nodes] invariant:one_observer_per_group"),
])
def test_findings_of_one_root_cause_share_a_key(a, b):
    assert group_key(a) == group_key(b)


@pytest.mark.parametrize("a,b", [
    ("partition[split:edge~out] invariant:one_observer_per_group",
     "partition[split:edge~out] invariant:annotated_edges_observed"),
    ("partition[split:edge~out] invariant:observer_matches_spec", "partition[split:edge~out]"),
    ("partition[split:edge~out];structure[nodes]", "partition[split:edge~out]"),
    ("crash_only_actual[KeyError]", "crash_only_expected[KeyError]"),
    ("crash_only_actual[KeyError]", "reference-disagrees crash_only_actual[KeyError]"),
    ("crash_only_expected[CyclicSharingError]", "crash_only_expected[DerivedCycleError]"),
    ("partition[split:edge~out] invariant:one_observer_per_group",
     "reference-disagrees partition[split:edge~out] invariant:one_observer_per_group"),
    ("reference-disagrees different_error[A!=B]", "upstream-crash different_error[A!=B]"),
    ("upstream-fails-too partition[x] invariant:one_observer_per_group",
     "partition[x] invariant:one_observer_per_group"),
    ("upstream-fails-too crash_only_actual[KeyError]", "upstream-crash crash_only_actual[KeyError]"),
    ("known:ao-4421", "known:ao-lenient-not-an-input"),
    ("crash: SystemExit", "crash: KeyboardInterrupt"),
    ("crash: the worker process was killed by SIGKILL", "crash: the worker process was killed by SIGSEGV"),
    ("timeout", "crash: SystemExit"),
    ("prepare: partition[x] invariant:one_observer_per_group", "partition[x] invariant:one_observer_per_group"),
    ("annotate: annotate() raised ValueError", "well_formed: CyclicSharingError"),
])
def test_different_root_causes_get_different_keys(a, b):
    assert group_key(a) != group_key(b)


@pytest.mark.parametrize("signature,key", [
    (f"partition[merged:edge~out,split:out~out];structure[chains,attached];unobserved[-out] {BOTH}",
     "invariant:one_observer_per_group"),
    ("unobserved[-edge] invariant:annotated_edges_observed invariant:graph_well_formed",
     "invariant:annotated_edges_observed"),
    ("partition[x] invariant:zz_new_check invariant:convert_state", "invariant:convert_state"),
    ("partition[x] invariant:zz_new_check", "invariant:zz_new_check"),
    ("structure[nodes];partition[split:edge~out];observer_config[dtype]", "partition+observer_config+structure"),
    ("different_error[CyclicSharingError!=AttributeError]", "candidate raised"),
    ("crash_only_actual[RecursionError]", "candidate raised"),
    ("crash_only_expected[TensorKwargError]", "crash_only_expected[TensorKwargError]"),
    ("upstream-crash different_error[CyclicSharingError!=RecursionError]", "upstream-crash candidate raised"),
    ("prepare: crash_only_actual[ValueError]", "prepare: candidate raised"),
    ("upstream-fails-too crash_only_expected[NotAnInputError]", "upstream-fails-too"),
    ("known:ao-4421", "known:ao-4421"),
    ("timeout", "timeout"),
    ("crash: SystemExit", "crash: SystemExit"),
    ("crash: the worker process exited with status 3 without finishing (os._exit?)",
     "crash: the worker process exited with status 3 without finishing"),
    ("annotate: annotate() raised ValueError | well_formed: CyclicSharingError", "annotate: annotate() raised ValueError"),
    ("prepare: known:ao-4421", "prepare: known:ao-4421"),
])
def test_the_key_in_words(signature, key):
    assert group_key(signature) == key and is_signature(signature)


@pytest.mark.parametrize("text", ['evil <script>alert("x")</script> & co', "a partition of the keys", "none", "",
                                  "partition[unclosed", "prepare: nothing known", "upstream-fails-too",
                                  "upstream-fails-too of course",
                                  "partition[split:edge~out] invariant:annotated_edges_obse..."])  # clipped
def test_text_that_is_no_signature_is_its_own_key(text):
    assert not is_signature(text) and group_key(text) == " ".join(text.split())


def test_group_keeps_every_member_and_puts_the_smallest_first():
    items = [("partition[a] invariant:one_observer_per_group", 7), ("timeout", 5),
             ("partition[b] " + BOTH, 3), ("partition[c] invariant:one_observer_per_group", 3)]
    groups = group(items, lambda t: t[0], lambda t: t[1])
    assert [(g.key, g.count) for g in groups] == [("invariant:one_observer_per_group", 3), ("timeout", 1)]
    assert groups[0].witness == items[2] and groups[0].members == (items[2], items[3], items[0])


@pytest.mark.parametrize("signature, named", [
    ("x86-unused-conv", "known:x86-unused-conv"),  # a judged quantizer bug's finding is signed by its id alone
    ("known:ao-4421", "known:ao-4421"),
    ("config:loud x86-unused-conv", "config:loud known:x86-unused-conv"),
    ("annotate: annotate() raised ValueError in annotate", "annotate: annotate() raised ValueError in annotate"),
    ("", ""),
])
def test_a_known_bug_is_named_known_id_whatever_signed_it(signature, named):
    assert known_signature(signature) == named
    if named.startswith(("known:", "config:")):
        assert group_key(named) == named.split(" ")[-1]


CRASH = "crash_only_actual[RuntimeError]"


def test_a_finding_where_torchao_fails_too_joins_its_failures_group_when_the_run_has_one():
    too, too_other = f"upstream-fails-too {CRASH}", "upstream-fails-too crash_only_expected[NotAnInputError]"
    assert failure_of(too) == CRASH and failure_of(CRASH) == CRASH and failure_of("upstream-fails-too") == \
        "upstream-fails-too"
    assert failure_of(f"config:loud {too}") == f"config:loud {CRASH}"
    # alone, its own group; beside the same failure on a case torchao gets right, that failure's group
    assert group_keys([too]) == {too: "upstream-fails-too"}
    assert group_keys([too, CRASH, too_other]) == {too: "candidate raised",
                                                   CRASH: "candidate raised",
                                                   too_other: "upstream-fails-too"}
    # not another prefixed finding's failure: only one on a case torchao gets right draws it in
    assert set(group_keys([too, f"upstream-fails-too different_error[A!=RuntimeError]"]).values()) == {
        "upstream-fails-too"}
    groups = group([(too, 5), (too_other, 9), (CRASH, 7)], lambda t: t[0], lambda t: t[1])
    assert [(g.key, g.count, g.witness) for g in groups] == [("candidate raised", 2, (too, 5)),
                                                             ("upstream-fails-too", 1, (too_other, 9))]


@pytest.mark.parametrize("signature, types", [
    ("crash_only_actual[AssertionError]", ["AssertionError"]),
    ("upstream-fails-too different_error[NotAnInputError!=AttributeError]", ["AttributeError"]),
    ("config:loud prepare: different_error[A!=KeyError]", ["KeyError"]),
    ("crash_only_expected[NotAnInputError]", []),
    ("partition[split:edge~out] invariant:one_observer_per_group", []),
    ("crash: SystemExit", []),
])
def test_raised_types_reads_what_the_candidate_raised(signature, types):
    assert raised_types(signature) == types


def test_a_group_of_candidates_that_raised_shows_each_type_with_its_count():
    members = ["crash_only_actual[AssertionError]", "upstream-fails-too different_error[A!=AttributeError]",
               "different_error[B!=AssertionError]", "crash_only_actual[RecursionError]"]
    assert set(group_keys(members).values()) == {"candidate raised"}
    assert key_label("candidate raised", members) == \
        "candidate raised: AssertionError 2, AttributeError 1, RecursionError 1"
    assert key_label("prepare: candidate raised", ["prepare: crash_only_actual[KeyError]"]) == \
        "prepare: candidate raised: KeyError 1"
    # any other group is shown by its key alone
    assert key_label("invariant:one_observer_per_group", ["partition[x] invariant:one_observer_per_group"]) == \
        "invariant:one_observer_per_group"
