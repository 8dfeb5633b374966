"""The expected sharing partition of a case, as :class:`ExpectedGroup` lists, from the reference's analysis or
from torchao's own grouping.

Rule: a group holds the keys (``"edge:a->n"`` / ``"out:n"``) that must share one observer, with the spec its
observer is built from.
"""

from __future__ import annotations

from typing import Any

from torch.fx import GraphModule
from torchao.quantization.pt2e.prepare import _get_edge_or_node_to_group_id, _get_edge_or_node_to_qspec

from harness.check.invariants.context import ExpectedGroup
from harness.check.keys import key_of

__all__ = ["expected_groups_from_analysis", "expected_groups_from_upstream"]


def expected_groups_from_analysis(analysis: Any) -> list[ExpectedGroup]:
    """Convert ``prepare_impl.sharing_groups(model)`` (groups with ``members`` and ``spec``)."""
    return [
        ExpectedGroup(keys=frozenset(key_of(m) for m in g.members), spec=g.spec)
        for g in analysis.groups
    ]


def expected_groups_from_upstream(original: GraphModule) -> list[ExpectedGroup]:
    """The partition torchao's own prepare computes for ``original`` (via its private grouping helpers).

    Only keys with a non-``None`` spec are kept; a group's spec is the spec of its first key in
    annotation order (the one torchao builds the observer from). Useful to check torchao against the
    checkers, and in tests.
    """
    qspecs = _get_edge_or_node_to_qspec(original)
    group_id = _get_edge_or_node_to_group_id(qspecs)
    members: dict[int, list[str]] = {}
    spec_of: dict[int, Any] = {}
    for eon, spec in qspecs.items():
        if spec is None:
            continue
        gid = group_id[eon]
        members.setdefault(gid, []).append(key_of(eon))
        spec_of.setdefault(gid, spec)
    return [ExpectedGroup(keys=frozenset(members[g]), spec=spec_of[g]) for g in members]
