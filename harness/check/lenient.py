"""How a candidate fails where torchao is lenient: on a case the reference rejects and torchao prepares anyway.

Such a case breaks an annotation rule (an ``input_qspec_map`` that names a node which is not an input, say): the
reference raises its typed error, torchao ignores the problem and prepares (a known bug, ``ao-lenient-not-an-input``).
A candidate that is lenient too, with the same result as torchao's, shares torchao's known bug; with another result,
it fails in a NEW way, and nothing the reference computes says how: the reference has no sharing groups for a case
it rejects.

The rule: the expectation is then torchao's own. The candidate's result is checked by the invariants, with the
sharing groups torchao's own grouping computes for the case
(:func:`harness.check.invariants.expected.expected_groups_from_upstream`) as the expected partition, and so is
torchao's result; the violations of the candidate's result are kept for each invariant torchao's own result does
not break against those groups. Said plainly: how the candidate's result is wrong by torchao's own semantics of the
lenient case. No violation is kept when torchao's grouping cannot be computed for the case.

This names the failure, :attr:`harness.check.run.Report.signature` carries the invariants, so the campaign can group
the finding with the same failure on a case torchao gets right (:mod:`harness.check.groups`); it does not judge
it. The case is NEW either way, since the candidate's result is not torchao's.
"""

from __future__ import annotations

from typing import Iterable

from torch.fx import GraphModule

from harness.check.invariants import CheckContext, Violation, check_all
from harness.check.invariants.expected import expected_groups_from_upstream

__all__ = ["beyond_upstream"]


def beyond_upstream(original: GraphModule, candidate: GraphModule, upstream: GraphModule, *, is_qat: bool,
                    checks: Iterable[str]) -> list[Violation]:
    """The violations of ``candidate``'s result, prepared from (a build of) ``original``, against torchao's own
    sharing groups of ``original``, for each invariant of ``checks`` that ``upstream``'s result does not break
    against them (the module's rule). ``original`` must be unmutated."""
    try:
        expected = expected_groups_from_upstream(original)
    except Exception:  # noqa: BLE001 - torchao's grouping fails on this case: no expectation of its own to check by
        return []
    checks = list(checks)

    def violations(prepared: GraphModule) -> list[Violation]:
        return check_all(CheckContext(original=original, prepared=prepared, is_qat=is_qat, expected_groups=expected),
                         only=checks)

    torchao_breaks = {v.check for v in violations(upstream)}
    return [v for v in violations(candidate) if v.check not in torchao_breaks]
