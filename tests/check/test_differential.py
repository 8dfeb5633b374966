"""Property tests: on generated cases the reference satisfies every invariant, torchao agrees with it except
where a documented upstream bug explains the difference, and adversarial annotations get the typed errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from torchao.quantization.pt2e.prepare import prepare as upstream_prepare

import prepare_impl
from harness import strategies
from harness.case import Ref
from harness.case.files import iter_cases
from harness.check import known_bugs
from harness.check.groups import UPSTREAM_FAILS_TOO, group_key
from harness.check.run import TRIAGE_KNOWN, TRIAGE_NEW, TRIAGE_REFERENCE, TRIAGE_UPSTREAM, check_case


@given(strategies.cases(mode="valid", max_nodes=10))
def test_reference_satisfies_every_invariant(case):
    report = check_case(case, prepare_impl.prepare, float_semantics=True)
    assert report.reference.error is None, report.reference.error
    assert not report.failed, report.summary()


@given(strategies.cases(mode="valid", max_nodes=10))
def test_torchao_agrees_with_the_reference_except_known_bugs(case):
    report = check_case(case, upstream_prepare, float_semantics=True)
    # torchao reproduces its own failures: a failure is either named by a known bug, or the reference is suspect
    assert report.triage in ("", TRIAGE_KNOWN), report.summary()
    assert report.failed == (report.known is not None)


@given(strategies.adversarial_cases())
def test_adversarial_annotations_get_the_typed_error(case_and_kind):
    case, kind = case_and_kind
    report = check_case(case, upstream_prepare)
    error = report.reference.error
    assert isinstance(error, prepare_impl.AnnotationError), (kind, error)
    assert type(error).__name__ == case.expected.error, (kind, error)
    assert not report.is_new, report.summary()  # torchao's bare errors are known


def test_a_known_bug_is_recognised_and_a_mutant_is_not():
    from harness import mutants

    root = Path(__file__).resolve().parents[2] / "corpus" / "upstream_bugs"
    ((_, case),) = [(p, c) for p, c in iter_cases(root) if "ao-implicit-root-loop" in c.info.tags]
    report = check_case(case, upstream_prepare)
    assert report.failed and report.known is not None and report.known.id == "ao-implicit-root-loop"
    mutant_report = check_case(case, mutants.no_explicit_sharing)
    assert mutant_report.is_new, mutant_report.summary()


# ---- triage by reproduction: a failure is known only when torchao fails the same way ---------------------------

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "upstream_bugs"
ERROR_TYPES = (AssertionError, KeyError, RecursionError, IndexError)


def _corpus_case(bug_id):
    return next(c for _, c in iter_cases(CORPUS) if bug_id in c.info.tags)


FIRST_FOUND = settings(database=None, deadline=None, suppress_health_check=list(HealthCheck), max_examples=300,
                       phases=[Phase.generate])  # the first example found, not shrunk: quick


def _observed(report):
    prepared = report.candidate.prepared
    return prepared is not None and any(isinstance(getattr(m, "quant_max", None), int) for m in prepared.modules())


def _adversarial_case(kind, want_bug, observed=False):
    """A generated case with one injected defect of ``kind`` on which torchao shows ``want_bug`` (and, with
    ``observed``, inserts an observer)."""
    def shows(case_and_kind):
        report = check_case(case_and_kind[0], upstream_prepare)
        return report.known is not None and report.known.id == want_bug and (not observed or _observed(report))

    return find(strategies.adversarial_cases(kinds=[kind], max_nodes=5), shows, settings=FIRST_FOUND)[0]


def _chain(case, length):
    """The deep-chain case cut to ``length`` relus (torchao then hits ao-4421's assertion, not the recursion)."""
    nodes = case.graph.nodes
    last = f"relu_{length - 1}"
    output = dataclasses.replace(nodes[-1], args=((Ref(last),),))
    anns = tuple(a for a in case.annotations if int(a.node.split("_")[1]) < length - 1)
    anns += (dataclasses.replace(case.annotations[-1], node=last),)
    return dataclasses.replace(case, graph=dataclasses.replace(case.graph, nodes=(*nodes[:length + 1], output)),
                               annotations=anns, expected=None)


def _perturbed(prepared):
    """``prepared`` with one observer's quant_max lowered: the same kind of result, a different configuration."""
    for module in prepared.modules():
        if isinstance(getattr(module, "quant_max", None), int):
            module.quant_max -= 1
            inner = getattr(module, "activation_post_process", None)
            if inner is not None and isinstance(getattr(inner, "quant_max", None), int):
                inner.quant_max -= 1
            return prepared
    raise AssertionError("no observer to perturb")


def _torchao_except_on_trigger(trigger, behaviour):
    """torchao's prepare, except on the trigger (a graph with exactly the trigger case's node names)."""
    names = {n.name for n in trigger.graph.nodes}

    def prepare(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
        if {n.name for n in model.graph.nodes} != names:
            return upstream_prepare(model, node_name_to_scope, is_qat, obs_or_fq_callback)
        return behaviour(model, node_name_to_scope, is_qat, obs_or_fq_callback)

    return prepare


def _raise_other(case, accepted):
    """Raise an error type the bug's predicate accepts, but not the one torchao raises on ``case``."""
    torchao_error = type(check_case(case, upstream_prepare).candidate.error)
    other = next(t for t in accepted if t is not torchao_error)

    def behaviour(*args):
        raise other("not torchao's failure")

    return behaviour


def _triage_cases():
    """bug id -> (case, behaviour on the trigger, whether the bug's predicate still matches the candidate)."""
    ok_valid = find(strategies.cases(mode="valid", max_nodes=3), lambda c: not check_case(c, upstream_prepare).failed,
                    settings=FIRST_FOUND)

    def recursion(*args):
        raise RecursionError("maximum recursion depth exceeded")

    def torchao_perturbed(model, scope, is_qat, cb=None):
        return _perturbed(upstream_prepare(model, scope, is_qat, cb))

    def reference_perturbed(model, scope, is_qat, cb=None):
        return _perturbed(prepare_impl.prepare(model, scope, is_qat, cb))

    def accepts_silently(model, scope, is_qat, cb=None):
        return model

    not_an_input_bare = _adversarial_case("not_an_input", "ao-4483-bare-error")
    cycle = _adversarial_case("shared_cycle", "ao-4483-cycle")
    dangling = _adversarial_case("dangling_shared", "ao-4483-dangling")
    derived_cycle = _adversarial_case("derived_cycle", "ao-derived-cycle")
    return {
        # torchao raises AssertionError on every such case: the candidate prepares it, wrongly, instead
        "ao-4421": (_corpus_case("ao-4421"), reference_perturbed, False),
        "ao-deep-chain": (_chain(_corpus_case("ao-deep-chain"), 600), recursion, True),
        "ao-implicit-root-loop": (ok_valid, recursion, True),
        "ao-4421-derived": (_corpus_case("ao-4421-derived"),
                            _raise_other(_corpus_case("ao-4421-derived"), (KeyError, AssertionError)), True),
        "ao-qat-fq-ch-axis": (_corpus_case("ao-qat-fq-ch-axis"), torchao_perturbed, True),
        "ao-4483-dangling": (dangling, _raise_other(dangling, (KeyError, AssertionError)), True),
        "ao-4483-cycle": (cycle, _raise_other(cycle, (RecursionError, AssertionError, KeyError)), True),
        "ao-derived-cycle": (derived_cycle, _raise_other(derived_cycle, (KeyError, AssertionError)), True),
        "ao-4483-bare-error": (not_an_input_bare, _raise_other(not_an_input_bare, ERROR_TYPES), True),
        # torchao raises AssertionError on every tensor kwarg: the candidate silently accepts it instead
        "ao-tensor-kwarg": (_adversarial_case("tensor_kwarg", "ao-tensor-kwarg"), accepts_silently, False),
        "ao-lenient-not-an-input": (_adversarial_case("not_an_input", "ao-lenient-not-an-input", observed=True),
                                    torchao_perturbed, True),
        # torchao leaves the in-place edge unobserved: the candidate observes it, with another configuration
        "ao-buffer-walk-skips-lists": (_corpus_case("ao-buffer-walk-skips-lists"), reference_perturbed, False),
        # torchao reuses the observer from before the write: the candidate observes after it, with another config
        "ao-stale-edge-observer": (_corpus_case("ao-stale-edge-observer"), reference_perturbed, False),
    }


@pytest.fixture(scope="module")
def triage_cases():
    return _triage_cases()


def test_every_known_bug_has_a_triage_case(triage_cases):
    assert set(triage_cases) == {b.id for b in known_bugs.KNOWN_BUGS}


@pytest.mark.slow
@pytest.mark.parametrize("bug_id", [b.id for b in known_bugs.KNOWN_BUGS])
def test_a_candidate_differing_from_torchao_on_a_known_bug_trigger_is_new(triage_cases, bug_id):
    case, behaviour, resembles = triage_cases[bug_id]
    candidate = _torchao_except_on_trigger(case, behaviour)
    report = check_case(case, candidate)
    assert report.failed and report.triage == TRIAGE_NEW and report.known is None, report.summary()
    assert report.signature != f"known:{bug_id}"
    if resembles:
        assert report.resembles is not None and report.resembles.id == bug_id, report.summary()
        assert f"resembles {bug_id}" in report.summary() and "torchao" in report.summary()
    # and torchao itself, on the same case, is known or correct: the difference is the candidate's
    upstream_report = check_case(case, upstream_prepare)
    assert not upstream_report.failed or upstream_report.triage == TRIAGE_KNOWN
    # signed apart exactly when torchao fails on the case too
    assert report.upstream_fails_too == upstream_report.failed
    assert (group_key(report.signature) == UPSTREAM_FAILS_TOO) == upstream_report.failed, report.signature


def _reference_perturbed(model, scope, is_qat, cb=None):
    return _perturbed(prepare_impl.prepare(model, scope, is_qat, cb))


def test_a_new_failure_where_torchao_fails_too_is_signed_and_grouped_apart():
    """One wrong observer configuration: on a case torchao prepares correctly its group is the invariant it
    breaks; on a case where torchao crashes (ao-4421) it is a NEW failure signed upstream-fails-too, one group."""
    def torchao_right_and_observed(case):
        return not check_case(case, upstream_prepare).failed and _observed(check_case(case, prepare_impl.prepare))

    valid = find(strategies.cases(mode="valid", max_nodes=3), torchao_right_and_observed, settings=FIRST_FOUND)
    alone = check_case(valid, _reference_perturbed)
    assert alone.triage == TRIAGE_NEW and not alone.upstream_fails_too, alone.summary()
    assert not alone.signature.startswith(UPSTREAM_FAILS_TOO) and group_key(alone.signature).startswith("invariant:")
    assert "torchao fails on this case too" not in alone.summary()

    both = check_case(_corpus_case("ao-4421"), _reference_perturbed)
    assert both.triage == TRIAGE_NEW and both.upstream_fails_too and both.known is None, both.summary()
    assert both.upstream.error is not None  # torchao raised on it
    unprefixed = dataclasses.replace(both, upstream_classes=frozenset()).signature  # the failure itself
    assert unprefixed and both.signature == f"{UPSTREAM_FAILS_TOO} {unprefixed}"
    assert group_key(both.signature) == UPSTREAM_FAILS_TOO
    assert "torchao fails on this case too, differently (crash_only_actual): a NEW failure" in both.summary()


def test_torchao_itself_is_triaged_without_a_rerun():
    case = _corpus_case("ao-4421")
    report = check_case(case, upstream_prepare)
    assert report.triage == TRIAGE_KNOWN and report.known.id == "ao-4421"
    assert report.upstream is None  # the candidate is upstream: its own outcome is upstream's


def test_the_reference_disagreeing_with_torchao_is_reported_as_ours():
    """A candidate that agrees with torchao where no known bug explains the difference: the reference is suspect."""
    case = _corpus_case("ao-qat-fq-ch-axis")

    def torchao_copy(model, scope, is_qat, cb=None):
        return upstream_prepare(model, scope, is_qat, cb)

    report = check_case(case, torchao_copy)  # torchao is re-run and fails the same way
    assert report.triage == TRIAGE_KNOWN and report.known.id == "ao-qat-fq-ch-axis"
    assert report.upstream is not None
    patched = dataclasses.replace(known_bugs.by_id("ao-qat-fq-ch-axis"), matches=lambda o: False)
    bugs = tuple(patched if b.id == patched.id else b for b in known_bugs.KNOWN_BUGS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(known_bugs, "KNOWN_BUGS", bugs)
        report = check_case(case, torchao_copy)
    assert report.triage == TRIAGE_REFERENCE and report.known is None
    assert report.signature.startswith("reference-disagrees")
    assert "the reference disagrees with torchao" in report.summary()


def test_a_rejected_annotation_set_is_the_references_outcome_without_another_build(monkeypatch):
    """The reference's analysis rejects an adversarial case once, on the original: that error is the reference's
    outcome (as its prepare would raise it on a copy), and only the original and the candidate's copy are built."""
    import harness.check.run as run
    from harness.fx.build import build

    case, _ = find(strategies.adversarial_cases(kinds=["dangling_shared"]), lambda _: True,
                   settings=settings(database=None, max_examples=50))
    with pytest.raises(prepare_impl.AnnotationError) as raised:
        prepare_impl.prepare(build(case), {}, case.is_qat)
    builds = []
    monkeypatch.setattr(run, "build", lambda c: builds.append(c) or build(c))
    report = check_case(case, upstream_prepare)
    assert type(report.reference.error) is raised.type
    assert report.reference.canonical == run.canonical_error(raised.value)
    assert report.analysis is None
    assert len(builds) == 2


def _tensor_kwarg_and_self_cycle():
    """add(x, other=y) whose edge from x shares with itself: two faults. The reference reports the first it meets
    (the tensor keyword argument); torchao recurses on the cycle until RecursionError."""
    from harness import case as C
    from harness.corpus.scenarios.builders import ann, call, out, ph, shared_edge

    graph = (ph("x", (2, 4)), ph("y", (2, 4)), call("add", "aten.add.Tensor", Ref("x"), other=Ref("y")), out("add"))
    return C.Case(C.Graph(graph), (ann("add", (("x", shared_edge("x", "add")),)),), False, None, C.Info())


def test_torchao_crashing_where_the_reference_names_the_fault_is_upstreams_bug_not_ours():
    """Issue 15: TensorKwargError against RecursionError was triaged "the reference disagrees". A RecursionError is
    never a correct outcome: a known bug names it when one does, else the triage still blames upstream."""
    case = _tensor_kwarg_and_self_cycle()
    report = check_case(case, upstream_prepare)
    assert isinstance(report.reference.error, prepare_impl.TensorKwargError)
    assert isinstance(report.candidate.error, RecursionError)
    assert report.triage == TRIAGE_KNOWN and report.known.id == "ao-4483-bare-error", report.summary()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(known_bugs, "KNOWN_BUGS", ())
        unnamed = check_case(case, upstream_prepare)
    assert unnamed.triage == TRIAGE_UPSTREAM and unnamed.known is None, unnamed.summary()
    assert unnamed.signature.startswith("upstream-crash") and "torchao crashes" in unnamed.summary()


def test_a_candidate_accepting_what_the_reference_rejects_like_torchao_is_still_a_reference_question():
    """The upstream rule needs torchao to *crash*: a candidate and torchao both accepting a case the reference
    rejects (no known bug naming it) leave the reference suspect."""
    case = _corpus_case("ao-buffer-walk-skips-lists")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(known_bugs, "KNOWN_BUGS", ())
        report = check_case(case, upstream_prepare)
    assert report.triage == TRIAGE_REFERENCE, report.summary()


def test_the_in_place_edge_behind_a_list_argument_is_a_known_upstream_bug():
    """Issue 15: minimum(cat([x, x]), buffer) then relu_: torchao leaves the edge unobserved, the reference
    observes it (torchao's producer walk skips the list)."""
    case = _corpus_case("ao-buffer-walk-skips-lists")
    report = check_case(case, upstream_prepare)
    assert report.triage == TRIAGE_KNOWN and report.known.id == "ao-buffer-walk-skips-lists", report.summary()
    assert "edge:minimum->relu_" in report.summary()
    assert not check_case(case, prepare_impl.prepare).failed


def test_an_edge_read_after_an_in_place_write_is_a_known_upstream_bug():
    """Issue 15's float-semantics question, judged: torchao observes the edge before the write and reuses that
    observer; the reference observes it as the consumer reads it."""
    case = _corpus_case("ao-stale-edge-observer")
    report = check_case(case, upstream_prepare)
    assert report.triage == TRIAGE_KNOWN and report.known.id == "ao-stale-edge-observer", report.summary()
    assert not check_case(case, prepare_impl.prepare, float_semantics=True).failed
