"""The expected result of a scenario: computed by the reference prepare, then checked against its author's
hand-written expectation (partition of the observed keys, unobserved keys, observer fields, typed error).

A scenario whose reference result is not what it means can therefore never be written to ``corpus/``.
"""

from __future__ import annotations

from typing import Optional

from harness import case as C
from harness.corpus.scenarios.scenario import Scenario


def expected_from_reference(case: C.Case) -> C.Expected:
    """What the reference prepare does with ``case``: its canonical form, or the name of its typed error."""
    # Imported here, not at the top: they import torch, and ``harness.__main__`` imports this package at
    # start-up for every command (``python -m harness --help`` does not need torch).
    import prepare_impl
    from harness.fx.build import build
    from harness.check.canonical import canonical_form

    original = build(case)
    work = build(case)
    try:
        prepared = prepare_impl.prepare(work, {}, case.is_qat)
    except prepare_impl.AnnotationError as e:
        return C.Expected(error=type(e).__name__)
    return C.Expected(canonical=canonical_form(original, prepared).to_json())


def expected_partition(canonical: dict) -> set[frozenset[str]]:
    """The observed keys of canonical JSON data, grouped by observer instance."""
    return {frozenset(g["keys"]) for g in canonical.get("groups", [])}


def _show(groups: set[frozenset[str]]) -> str:
    return "; ".join("{" + ", ".join(sorted(g)) + "}" for g in sorted(groups, key=lambda g: sorted(g)))


def check_expectation(scenario: Scenario, expected: Optional[C.Expected]) -> list[str]:
    """Problems with ``expected`` (the reference's result) given what the scenario's author expects; [] if none."""
    if expected is None:
        return ["no expected result"]
    if scenario.error is not None:
        if expected.error != scenario.error:
            got = expected.error or "a prepared model"
            return [f"expected the reference to raise {scenario.error}, got {got}"]
        return []
    if expected.error is not None or expected.canonical is None:
        return [f"expected a prepared model, the reference raised {expected.error}"]
    canonical = expected.canonical
    problems = []
    if scenario.groups is not None:
        want, got = set(scenario.groups), expected_partition(canonical)
        if want != got:
            problems.append(f"partition: expected {_show(want)}; reference gives {_show(got)}")
    if set(canonical.get("unobserved", [])) != set(scenario.unobserved):
        problems.append(f"unobserved: expected {sorted(scenario.unobserved)}, reference leaves "
                        f"{sorted(canonical.get('unobserved', []))}")
    by_key = {k: g["observer"] for g in canonical.get("groups", []) for k in g["keys"]}
    for key, fields in scenario.observers:
        observer = by_key.get(key)
        if observer is None:
            problems.append(f"{key}: expected an observer, the reference leaves it unobserved")
            continue
        for name, value in fields:
            if observer.get(name) != value:
                problems.append(f"{key}: expected observer {name}={value!r}, reference has {observer.get(name)!r}")
    if scenario.check is not None:
        problem = scenario.check(canonical)
        if problem:
            problems.append(problem)
    return problems
