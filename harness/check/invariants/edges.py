"""Annotated edges observed, nothing else: every annotated key (not exempt upstream) is observed on every path
to its consumers, each chain is an output observer followed by at most one edge observer of another group, and
no observer sits where nothing is annotated.
"""

from __future__ import annotations

from typing import Any

from harness.check.invariants.context import CheckContext, Violation
from harness.check.invariants.exempt import exempt_keys
from harness.check.invariants.naming import nodes_by_name
from harness.check.keys import output_key, parse_key

__all__ = ["check_annotated_edges_observed"]


def check_annotated_edges_observed(ctx: CheckContext) -> list[Violation]:
    """Every annotated key is observed on every path to its consumers, and nothing unannotated is."""
    om = ctx.observers()
    keys = om.keys
    exempt = exempt_keys(ctx.original, ctx.expected_groups)
    index = ctx.group_index()
    have_groups = ctx.expected_groups is not None
    prepared_nodes = nodes_by_name(ctx.prepared)
    obs_set = set(om.observer_nodes)
    v: list[Violation] = []

    def add(msg: str, **details: Any) -> None:
        v.append(Violation("annotated_edges_observed", msg, details or None))

    def required(key: str) -> bool:
        return key in keys and key not in exempt

    # outputs
    for key in keys:
        kind, a, _ = parse_key(key)
        if kind != "out" or not required(key):
            continue
        if a not in prepared_nodes:
            add(f"{a} has an annotated output but is missing from the prepared graph", key=key)
            continue
        attached = om.attached.get(a, [])
        if not attached:
            add(f"the output of {a} is annotated but not observed", key=key)
            continue
        if len({id(om.module(o)) for o in attached}) > 1:
            add(
                f"the output of {a} has {len(attached)} different observers reading it directly "
                f"({', '.join(o.name for o in attached)}); its users must all read one output observer",
                key=key,
            )
        for user in prepared_nodes[a].users:
            if user not in obs_set:
                add(f"{user.name} reads {a} directly, bypassing the observer of its annotated output", key=key)

    # annotated edges with their consumer reading the producer directly
    for key in keys:
        kind, a, n = parse_key(key)
        if kind != "edge" or not required(key) or a not in prepared_nodes or n not in prepared_nodes:
            continue
        if not have_groups and output_key(a) in exempt:
            continue  # may legitimately share the (never inserted) observer of the exempt output
        for i, chain in enumerate(om.edge_chains.get(key, [])):
            if not chain:
                where = "" if len(om.edge_chains[key]) == 1 else f" (occurrence {i + 1})"
                add(f"{n} reads {a} directly{where} although the edge {a} -> {n} is annotated", key=key)

    # the shape of every chain: output observer, then at most an edge observer of another group
    for ek, chains in om.edge_chains.items():
        _, a, n = parse_key(ek)
        ok = output_key(a)
        out_req = required(ok)
        edge_req = required(ek)
        for chain in chains:
            if not chain:
                continue
            rest = chain[1:] if out_req else list(chain)
            if not edge_req:
                if rest:
                    what = "not annotated" if ek not in keys else f"not observed upstream: {exempt[ek]}"
                    add(
                        f"extra observer(s) {', '.join(o.name for o in rest)} on the edge {a} -> {n}, which is {what}",
                        key=ek,
                        observers=[o.name for o in rest],
                    )
                continue
            if out_req and have_groups and ek in index and index.get(ok) == index[ek]:
                if rest:
                    add(
                        f"the edge {a} -> {n} shares its group with the output of {a} but has its own "
                        f"observer(s) {', '.join(o.name for o in rest)} after {chain[0].name}",
                        key=ek,
                    )
            elif out_req and have_groups:
                if len(rest) != 1:
                    add(
                        f"the edge {a} -> {n} is in a different group than the output of {a}, so it needs "
                        f"exactly one observer after {chain[0].name}; found {len(rest)}",
                        key=ek,
                    )
            elif out_req:
                if len(rest) > 1:
                    add(f"the edge {a} -> {n} goes through {len(chain)} observers; at most 2 expected", key=ek)
                elif rest and om.module(rest[0]) is om.module(chain[0]):
                    add(
                        f"the edge {a} -> {n} is observed twice by the same instance "
                        f"({chain[0].name} then {rest[0].name})",
                        key=ek,
                    )
            elif len(rest) > 1:
                add(f"the edge {a} -> {n} goes through {len(rest)} observers; one expected", key=ek)
    # observers attached to a node whose output needs none and that no annotated edge reads through
    for a, attached in om.attached.items():
        if required(output_key(a)):
            continue
        for o in attached:
            if not o.users:
                add(f"observer {o.name} on {a} has no users and {a}'s output is not annotated", observer=o.name)
    return v
