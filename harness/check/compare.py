"""Classify how two prepared models (reference vs candidate) diverge.

:func:`compare` works on canonical forms (:mod:`harness.check.canonical`) and reports, deterministically and in
short human-readable words, what differs:

* ``crash_only_actual`` / ``crash_only_expected``: one side's prepare raised;
* ``different_error``: both raised, different exception types;
* ``partition``: the keys are grouped into observer instances differently;
* ``observer_config``: same grouping, but some group's observer is configured differently;
* ``unobserved``: keys observed on one side only;
* ``structure``: the observer nodes are laid out differently (chains, counts).

:func:`harness.check.numerics.compare_numerics` adds the kinds ``numerics`` and ``convert_failed`` (outputs of the
converted models). :func:`divergence_signature` gives a short, name-free string used to deduplicate findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from harness.check.canonical import Canonical, Group
from harness.check.keys import parse_key

__all__ = [
    "KINDS",
    "Divergence",
    "compare",
    "divergence_signature",
]

KINDS = (
    "crash_only_actual",
    "crash_only_expected",
    "different_error",
    "partition",
    "observer_config",
    "unobserved",
    "structure",
    "numerics",
    "convert_failed",
)


@dataclass(frozen=True)
class Divergence:
    """One way the candidate (actual) differs from the reference (expected).

    ``detail`` is shown to users; ``shape`` is the name-free summary :func:`divergence_signature` uses.
    """

    kind: str
    detail: str
    shape: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown divergence kind {self.kind!r}; known: {', '.join(KINDS)}")

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def _key_kind(key: str) -> str:
    return parse_key(key)[0]


def _list(keys: Iterable[str], limit: int = 6) -> str:
    keys = sorted(keys)
    if len(keys) > limit:
        return ", ".join(keys[:limit]) + f", ... ({len(keys) - limit} more)"
    return ", ".join(keys)


def _blocks(groups: Sequence[Group], keep: set[str]) -> list[tuple[str, ...]]:
    """The partition restricted to ``keep``, each block sorted, blocks sorted by smallest key."""
    blocks = [tuple(sorted(k for k in g.keys if k in keep)) for g in groups]
    return sorted((b for b in blocks if b), key=lambda b: b[0])


def _split_pairs(together: list[tuple[str, ...]], other: dict[str, int]) -> list[tuple[str, str]]:
    """Minimal pairs of keys together in a block of ``together`` but in different blocks of ``other``.

    Each block is cut into cells by ``other``; consecutive cells (by smallest key) give one pair each.
    """
    pairs = []
    for block in together:
        cells: dict[int, list[str]] = {}
        for k in block:
            cells.setdefault(other[k], []).append(k)
        reps = sorted(min(c) for c in cells.values())
        pairs.extend(zip(reps, reps[1:]))
    return pairs


def _compare_partition(expected: Canonical, actual: Canonical, common: set[str]) -> Optional[Divergence]:
    e_blocks = _blocks(expected.groups, common)
    a_blocks = _blocks(actual.groups, common)
    if e_blocks == a_blocks:
        return None
    e_of = {k: i for i, b in enumerate(e_blocks) for k in b}
    a_of = {k: i for i, b in enumerate(a_blocks) for k in b}
    split = _split_pairs(e_blocks, a_of)  # together in expected, apart in actual
    merged = _split_pairs(a_blocks, e_of)  # together in actual, apart in expected
    parts = []
    if split:
        parts.append("shared in expected, separate in actual: " + "; ".join(f"{a} ~ {b}" for a, b in split))
    if merged:
        parts.append("separate in expected, shared in actual: " + "; ".join(f"{a} ~ {b}" for a, b in merged))
    shape = ",".join(
        sorted([f"split:{_key_kind(a)}~{_key_kind(b)}" for a, b in split] + [f"merged:{_key_kind(a)}~{_key_kind(b)}" for a, b in merged])
    )
    return Divergence("partition", " | ".join(parts), shape)


_CONFIG_FIELDS = (
    "cls",
    "inner",
    "dtype",
    "quant_min",
    "quant_max",
    "qscheme",
    "ch_axis",
    "is_dynamic",
    "scale",
    "zero_point",
    "eps",
    "derived_from",
    "derive_fn",
)


def _restrict_derived(value: Any, keep: set[str]) -> Any:
    if value is None:
        return None
    return tuple(None if g is None else tuple(k for k in g if k in keep) for g in value)


def _fmt(value: Any) -> str:
    if isinstance(value, str) and "(" not in value:
        return value.rsplit(".", 1)[-1]  # short class/dtype names: torch.int8 -> int8
    if isinstance(value, tuple):
        return "[" + "; ".join("-" if g is None else "{" + ", ".join(g) + "}" for g in value) + "]"
    return repr(value)


def _compare_configs(expected: Canonical, actual: Canonical, common: set[str]) -> list[Divergence]:
    a_by_block = {tuple(sorted(k for k in g.keys if k in common)): g for g in actual.groups}
    out = []
    for eg in expected.groups:
        block = tuple(sorted(k for k in eg.keys if k in common))
        ag = a_by_block.get(block)
        if not block or ag is None:
            continue
        diffs = []
        for f in _CONFIG_FIELDS:
            ev, av = getattr(eg.observer, f), getattr(ag.observer, f)
            if f == "derived_from":
                ev, av = _restrict_derived(ev, common), _restrict_derived(av, common)
            if ev != av:
                diffs.append((f, ev, av))
        if diffs:
            name = block[0] if len(block) == 1 else f"{block[0]} (+{len(block) - 1})"
            detail = f"group {name}: " + ", ".join(f"{f} {_fmt(e)} vs {_fmt(a)}" for f, e, a in diffs)
            out.append(Divergence("observer_config", detail, ",".join(f for f, _, _ in diffs)))
    return out


def _compare_structure(expected: Canonical, actual: Canonical, with_modules: bool) -> Optional[Divergence]:
    es, as_ = expected.structure, actual.structure
    parts, shape = [], []
    ec, ac = dict(es.edge_chains), dict(as_.edge_chains)
    chain_diffs = [k for k in sorted(set(ec) | set(ac)) if ec.get(k, ()) != ac.get(k, ())]
    if chain_diffs:
        shown = "; ".join(f"{k} {list(ec.get(k, ()))} vs {list(ac.get(k, ()))}" for k in chain_diffs[:4])
        more = f"; ... ({len(chain_diffs) - 4} more)" if len(chain_diffs) > 4 else ""
        parts.append(f"observers per edge: {shown}{more}")
        shape.append("chains")
    eat, aat = dict(es.attached), dict(as_.attached)
    att_diffs = [k for k in sorted(set(eat) | set(aat)) if eat.get(k, 0) != aat.get(k, 0)]
    if att_diffs:
        parts.append("observers attached: " + "; ".join(f"{k} {eat.get(k, 0)} vs {aat.get(k, 0)}" for k in att_diffs[:4]))
        shape.append("attached")
    if es.observer_nodes != as_.observer_nodes:
        parts.append(f"observer nodes {es.observer_nodes} vs {as_.observer_nodes}")
        shape.append("nodes")
    if with_modules and es.observer_modules != as_.observer_modules:
        parts.append(f"observer instances {es.observer_modules} vs {as_.observer_modules}")
        shape.append("modules")
    if es.missing_nodes != as_.missing_nodes:
        parts.append(f"missing nodes {list(es.missing_nodes)} vs {list(as_.missing_nodes)}")
        shape.append("missing")
    if es.split_edges != as_.split_edges:
        parts.append(f"edges with inconsistent observers {list(es.split_edges)} vs {list(as_.split_edges)}")
        shape.append("split")
    if not parts:
        return None
    return Divergence("structure", " | ".join(parts), ",".join(shape))


def compare(expected: Canonical, actual: Canonical) -> list[Divergence]:
    """Every divergence of ``actual`` (candidate) from ``expected`` (reference), in a fixed kind order.

    Errors first: when either side raised, only the error divergence (if any) is reported. Otherwise:
    ``partition`` compares the grouping of the keys observed on both sides; ``observer_config`` compares
    groups whose (common) key sets are equal on both sides; ``unobserved`` lists keys observed on one side
    only; ``structure`` compares the layout, leaving out the instance count when the partition or the
    observed keys already differ (it follows from them).
    """
    if expected.error is not None or actual.error is not None:
        if expected.error is None:
            e = actual.error
            return [Divergence("crash_only_actual", f"candidate raised {e.type}: {e.message}", e.type)]
        if actual.error is None:
            e = expected.error
            return [Divergence("crash_only_expected", f"reference raised {e.type}: {e.message}, candidate did not", e.type)]
        if expected.error.type != actual.error.type:
            return [
                Divergence(
                    "different_error",
                    f"reference raised {expected.error.type}, candidate {actual.error.type}: {actual.error.message}",
                    f"{expected.error.type}!={actual.error.type}",
                )
            ]
        return []

    e_obs, a_obs = expected.observed_keys(), actual.observed_keys()
    common = e_obs & a_obs
    out: list[Divergence] = []
    part = _compare_partition(expected, actual, common)
    if part is not None:
        out.append(part)
    out.extend(_compare_configs(expected, actual, common))
    only_e, only_a = sorted(e_obs - a_obs), sorted(a_obs - e_obs)
    if only_e or only_a:
        parts = []
        if only_e:
            parts.append(f"observed only in expected: {_list(only_e)}")
        if only_a:
            parts.append(f"observed only in actual: {_list(only_a)}")
        shape = ",".join(
            sorted({f"-{_key_kind(k)}" for k in only_e} | {f"+{_key_kind(k)}" for k in only_a})
        )
        out.append(Divergence("unobserved", " | ".join(parts), shape))
    struct = _compare_structure(expected, actual, with_modules=part is None and not (only_e or only_a))
    if struct is not None:
        out.append(struct)
    return out


def divergence_signature(divs: Sequence[Divergence]) -> str:
    """A stable short string for a list of divergences: kinds and detail shapes, no node names.

    Equal for two findings that diverge in the same way on different graphs; ``"none"`` for no divergence.
    """
    if not divs:
        return "none"
    items = sorted({f"{d.kind}[{d.shape}]" if d.shape else d.kind for d in divs})
    return ";".join(items)

