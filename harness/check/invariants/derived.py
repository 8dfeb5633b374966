"""Derived sources: each ``DerivedObserverOrFakeQuantize``'s ``obs_or_fqs`` are, in order, the observers of its
spec's ``derived_from`` keys (of their groups, when expected groups are known).
"""

from __future__ import annotations

from typing import Any

from torchao.quantization.pt2e import DerivedObserverOrFakeQuantize
from torchao.quantization.pt2e.quantizer import DerivedQuantizationSpec

from harness.check.invariants.context import CheckContext, Violation
from harness.check.invariants.naming import key_text, keys_text, obs_name
from harness.check.invariants.sharing import shared_target
from harness.check.keys import key_of

__all__ = ["check_derived_sources"]


def _resolve_spec(key: str, keys: dict[str, Any]) -> Any:
    """Follow SharedQuantizationSpec references from ``key`` to a non-shared spec (None on a cycle/dangle)."""
    seen = set()
    spec = keys.get(key)
    while (t := shared_target(spec)) is not None:
        if t in seen:
            return None
        seen.add(t)
        spec = keys.get(t)
    return spec


def check_derived_sources(ctx: CheckContext) -> list[Violation]:
    """Each DerivedObserverOrFakeQuantize's ``obs_or_fqs`` are, in order, the observers of its spec's
    ``derived_from`` keys (of their groups, when expected groups are known)."""
    om = ctx.observers()
    keys = om.keys
    index = ctx.group_index()
    groups = ctx.expected_groups
    v = []
    done: set[int] = set()
    for o in om.observer_nodes:
        mod = om.module(o)
        if not isinstance(mod, DerivedObserverOrFakeQuantize) or id(mod) in done:
            continue
        done.add(id(mod))
        observed = [k for k in keys if om.key_module(k) is mod]
        spec = None
        for k in observed:
            cand = groups[index[k]].spec if groups is not None and k in index else _resolve_spec(k, keys)
            if isinstance(cand, DerivedQuantizationSpec):
                spec = cand
                break
        if spec is None:
            v.append(
                Violation(
                    "derived_sources",
                    f"{o.target} is a DerivedObserverOrFakeQuantize but observes no key with a "
                    f"DerivedQuantizationSpec ({keys_text(observed) or 'no annotated key'})",
                    {"observer": str(o.target)},
                )
            )
            continue
        sources = [key_of(s) for s in spec.derived_from]
        actual = list(mod.obs_or_fqs)
        if len(actual) != len(sources):
            v.append(
                Violation(
                    "derived_sources",
                    f"{o.target} derives from {len(actual)} observers but its spec names {len(sources)} "
                    f"sources ({keys_text(sources)})",
                    {"observer": str(o.target)},
                )
            )
            continue
        for i, (src, got) in enumerate(zip(sources, actual)):
            want = om.key_module(src)
            if want is None and groups is not None and src in index:
                want = om.group_module(groups[index[src]].keys)
            if want is None:
                continue  # the source is not observed in the graph: nothing to compare with
            if got is not want:
                v.append(
                    Violation(
                        "derived_sources",
                        f"{o.target}: source {i + 1} should be {obs_name(om, want)} (observing the "
                        f"{key_text(src)}), found {obs_name(om, got)}",
                        {"observer": str(o.target), "index": i, "source": src},
                    )
                )
    return v
