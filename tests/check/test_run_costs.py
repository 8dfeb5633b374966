"""What the differential check does not redo or keep (harness.check.run): torchao is not run again to triage a
failure of a candidate that wraps it, the observers of a prepared model are located once for its canonical form
and its invariants, and no prepared model outlives its check (torch and torchao cache every model they look up a
device for)."""

from __future__ import annotations

import dataclasses
import functools
import gc
import weakref
from pathlib import Path

from torchao.quantization.pt2e.prepare import prepare as upstream_prepare

import prepare_impl
from harness.case.files import iter_cases
from harness.check.canonical import canonical_of
from harness.check.invariants import CheckContext, check_all, expected_groups_from_analysis
from harness.check.observer_map import locate_observers
from harness.check.run import MODEL_CACHES, TRIAGE_KNOWN, check_case
from harness.fx.build import build

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "upstream_bugs"


def _known_bug_case():
    ((_, case),) = [(p, c) for p, c in iter_cases(CORPUS) if "ao-implicit-root-loop" in c.info.tags]
    return case


def test_a_candidate_wrapping_torchao_is_not_run_again_to_triage_its_failure():
    case = _known_bug_case()

    @functools.wraps(upstream_prepare)  # names torchao's prepare in __wrapped__, as the fuzz target's guard does
    def wrapped(*args, **kwargs):
        return upstream_prepare(*args, **kwargs)

    report = check_case(case, wrapped)
    assert report.triage == TRIAGE_KNOWN and report.known.id == "ao-implicit-root-loop"
    assert report.upstream is None  # reproduced by being torchao: no second run

    def calls_it(*args, **kwargs):  # another function that happens to call torchao: reproduced by running torchao
        return upstream_prepare(*args, **kwargs)

    other = check_case(case, calls_it)
    assert other.triage == TRIAGE_KNOWN and other.upstream is not None
    assert other.signature == report.signature


def test_the_observers_located_for_the_canonical_form_serve_the_invariants():
    case = _known_bug_case()
    report = check_case(case, prepare_impl.prepare)
    outcome = report.reference
    assert outcome.observers is not None and canonical_of(outcome.observers) == outcome.canonical
    # the same violations whether check_all is given the map or locates it itself, on a model with violations
    original = build(case)
    broken = build(case)
    prepared = prepare_impl.prepare(broken, {}, case.is_qat)
    observer = next(n for n in prepared.graph.nodes if n.op == "call_module")
    observer.replace_all_uses_with(observer.args[0])
    prepared.graph.erase_node(observer)
    groups = expected_groups_from_analysis(prepare_impl.sharing_groups(original))
    ctx = CheckContext(original, prepared, case.is_qat, groups)
    violations = check_all(ctx)
    assert violations
    assert check_all(dataclasses.replace(ctx, observer_map=locate_observers(original, prepared))) == violations


def test_no_prepared_model_outlives_its_check():
    case = _known_bug_case()
    report = check_case(case, prepare_impl.prepare)
    models = [weakref.ref(m) for m in (report.reference.prepared, report.candidate.prepared)]
    assert all(m() is not None for m in models)
    del report
    gc.collect()
    assert [m() for m in models] == [None, None]


def test_the_model_caches_it_clears_are_the_ones_torch_and_torchao_have():
    import importlib

    for module, name in MODEL_CACHES:  # a renamed cache would leak again, silently
        assert hasattr(getattr(importlib.import_module(module), name), "cache_clear"), (module, name)
