"""Sharing checks: each expected group shares one observer instance, distinct groups use distinct instances,
and the SharedQuantizationSpec references of the annotations form no cycle.

Distinct groups use distinct instances: two groups whose keys one instance observes share it. So do two groups
when one of them has no observer of its own, only its spec to be seen by: when the observer of a group is not what
the spec of any of the group's own keys asks for, but is exactly what the spec of one other group asks for, and that
group has no observer (an ``input_qspec_map`` entry naming a node that is not an input, which no prepare can
observe; torchao's own groups hold such keys), the observer was built for that group: the two were given one. (An
observer built from another key's spec of its own group is a wrong spec, not a share: ``observer_matches_spec``.)
"""

from __future__ import annotations

from typing import Any, Optional

from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

from harness.check.invariants.context import CheckContext, Violation
from harness.check.invariants.exempt import exempt_keys
from harness.check.invariants.naming import key_text, keys_text, obs_name
from harness.check.invariants.spec_match import spec_mismatches
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
    violations.extend(_borrowed(ctx, {gi for gis in owner.values() for gi in gis}))
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


def _borrowed(ctx: CheckContext, observed: set[int]) -> list[Violation]:
    """Each group of ``observed`` whose observer is not what any spec of its own keys asks for but exactly what the
    spec of the one other group with no observer at all asks for: that group lent its observer (the module's
    rule)."""
    om, groups = ctx.observers(), ctx.expected_groups
    # a group of ``observed`` has an observer: only the others are read (this runs on every check)
    lenders = [i for i, g in enumerate(groups)
               if i not in observed and g.spec is not None and om.group_module(g.keys) is None]
    violations: list[Violation] = []
    if not lenders:  # the common case: every group has an observer of its own
        return violations
    for gi in sorted(observed):
        g = groups[gi]
        mod = om.group_module(g.keys)
        if g.spec is None or not spec_mismatches(mod, g.spec, ctx.is_qat):
            continue
        if any(spec_mismatches(mod, om.keys[k], ctx.is_qat) == [] for k in g.keys if k in om.keys):
            continue  # built from another spec of its own group: a wrong spec, not a share
        fits = [i for i in lenders if spec_mismatches(mod, groups[i].spec, ctx.is_qat) == []]
        if len(fits) == 1:
            name, other = obs_name(om, mod), "{" + keys_text(groups[fits[0]].keys) + "}"
            violations.append(Violation(
                "one_observer_per_group",
                f"the groups {{{keys_text(g.keys)}}} and {other} must have distinct observers but share {name}: it "
                f"is what the spec of {other} asks for, not its own group's, and {other} has no observer of its own",
                {"observer": name, "groups": [sorted(g.keys), sorted(groups[fits[0]].keys)]}))
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
