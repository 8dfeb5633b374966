"""Sharing checks: each expected group shares one observer instance, distinct groups use distinct instances,
and the SharedQuantizationSpec references of the annotations form no cycle.
"""

from __future__ import annotations

from typing import Any, Optional

from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

from harness.check.invariants.context import CheckContext, Violation
from harness.check.invariants.exempt import exempt_keys
from harness.check.invariants.naming import key_text, keys_text, obs_name
from harness.check.keys import annotated_keys, key_of

__all__ = ["check_no_cyclic_sharing", "check_one_observer_per_group", "shared_target"]


def check_one_observer_per_group(ctx: CheckContext) -> list[Violation]:
    """All observed keys of an expected group share one instance; distinct groups use distinct ones."""
    if ctx.expected_groups is None:
        return []
    om = ctx.observers()
    exempt = exempt_keys(ctx.original, ctx.expected_groups)
    violations = []
    owner: dict[int, list[int]] = {}
    all_mods: dict[int, Any] = {}
    for gi, g in enumerate(ctx.expected_groups):
        by_mod: dict[int, list[str]] = {}
        mods: dict[int, Any] = {}
        for key in sorted(g.keys):
            mod = om.key_module(key)
            if key in exempt or mod is None:
                continue
            by_mod.setdefault(id(mod), []).append(key)
            mods[id(mod)] = mod
        if len(by_mod) > 1:
            parts = "; ".join(f"{keys_text(ks)} by {obs_name(om, mods[m])}" for m, ks in by_mod.items())
            violations.append(
                Violation(
                    "one_observer_per_group",
                    f"the group {{{keys_text(g.keys)}}} must share one observer but uses {len(by_mod)}: {parts}",
                    {"group": sorted(g.keys), "observers": {obs_name(om, mods[m]): ks for m, ks in by_mod.items()}},
                )
            )
        for m in by_mod:
            owner.setdefault(m, []).append(gi)
        all_mods.update(mods)
    for m, gis in owner.items():
        if len(gis) > 1:
            name = obs_name(om, all_mods[m])
            groups = " and ".join("{" + keys_text(ctx.expected_groups[i].keys) + "}" for i in gis)
            violations.append(
                Violation(
                    "one_observer_per_group",
                    f"the groups {groups} must have distinct observers but share {name}",
                    {"observer": name, "groups": [sorted(ctx.expected_groups[i].keys) for i in gis]},
                )
            )
    return violations


# ---- 2. no cyclic sharing ----------------------------------------------------------------------


def shared_target(spec: Any) -> Optional[str]:
    if isinstance(spec, SharedQuantizationSpec):
        return key_of(spec.edge_or_node)
    return None


def check_no_cyclic_sharing(ctx: CheckContext) -> list[Violation]:
    """The SharedQuantizationSpec references of the annotations form no cycle (each cycle reported once)."""
    keys = annotated_keys(ctx.original)
    points = {k: t for k, spec in keys.items() if (t := shared_target(spec)) is not None}
    violations = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in keys:
        path: list[str] = []
        k: Optional[str] = start
        while k is not None and state.get(k) is None:
            state[k] = 1
            path.append(k)
            k = points.get(k)
        if k is not None and state.get(k) == 1:
            cycle = path[path.index(k):] + [k]
            violations.append(
                Violation(
                    "no_cyclic_sharing",
                    "SharedQuantizationSpec references form a cycle: " + " -> ".join(key_text(c) for c in cycle),
                    {"cycle": cycle},
                )
            )
        for p in path:
            state[p] = 2
    return violations
