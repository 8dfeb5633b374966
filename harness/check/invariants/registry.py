"""The invariant registry: every checker by name (:data:`CHECKS`), and :func:`check_all`, which runs them.

Rule: a checker that crashes yields one violation saying so, never an exception; an unknown name is a ``KeyError``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable, Optional

from harness.check.invariants.context import CheckContext, Violation
from harness.check.invariants.convert_state import check_convert_state
from harness.check.invariants.derived import check_derived_sources
from harness.check.invariants.edges import check_annotated_edges_observed
from harness.check.invariants.float_semantics import check_float_semantics
from harness.check.invariants.sharing import check_no_cyclic_sharing, check_one_observer_per_group
from harness.check.invariants.spec_match import check_observer_matches_spec
from harness.check.invariants.well_formed import check_graph_well_formed
from harness.check.observer_map import locate_observers

__all__ = ["CHECKS", "check_all"]

CHECKS: dict[str, Callable[[CheckContext], list[Violation]]] = {
    "one_observer_per_group": check_one_observer_per_group,
    "no_cyclic_sharing": check_no_cyclic_sharing,
    "annotated_edges_observed": check_annotated_edges_observed,
    "observer_matches_spec": check_observer_matches_spec,
    "derived_sources": check_derived_sources,
    "graph_well_formed": check_graph_well_formed,
    "float_semantics": check_float_semantics,
    "convert_state": check_convert_state,
}


def check_all(ctx: CheckContext, only: Optional[Iterable[str]] = None) -> list[Violation]:
    """Run every checker (or those named in ``only``); a checker that crashes yields one violation."""
    names = list(CHECKS) if only is None else list(only)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise KeyError(f"unknown check(s) {unknown}; known: {sorted(CHECKS)}")
    if ctx.observer_map is None:  # located once for every checker that reads it
        try:
            ctx = replace(ctx, observer_map=locate_observers(ctx.original, ctx.prepared))
        except Exception:  # noqa: BLE001 - each checker that needs it fails on its own, and says so
            pass
    out: list[Violation] = []
    for name in names:
        try:
            out.extend(CHECKS[name](ctx))
        except Exception as e:
            out.append(Violation(name, f"the checker itself failed: {type(e).__name__}: {e}", {"crashed": True}))
    return out
