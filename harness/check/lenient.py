"""How a candidate's result is wrong on a case the reference rejects, the candidate prepares, and torchao fails on.

Such a case breaks an annotation rule. The reference raises its typed error. torchao either ignores the problem and
prepares (an ``input_qspec_map`` that names a node which is not an input: its known bug ``ao-lenient-not-an-input``),
or raises a bare error late in its prepare, after its grouping (a cycle of derived specs: ``ao-derived-cycle``). A
candidate that prepares the case, with another result than torchao's, fails in a NEW way, and nothing the reference
computes says more than "it accepted the case": the reference has no sharing groups for a case it rejects.

The rule: the expectation is then torchao's own. The candidate's result is checked by the invariants, with the
sharing groups torchao's own grouping computes for the case
(:func:`harness.check.invariants.expected.expected_groups_from_upstream`, the first step of its prepare) as the
expected partition. The violations are kept for each invariant that torchao's own result, when it prepared the case,
does not break against those groups (when it raised, all of them). Said plainly: how the candidate's result is wrong
by torchao's own grouping of the case. No violation is kept when torchao's grouping cannot be computed for the case.

This names the failure, :attr:`harness.check.run.Report.signature` carries the invariants, so the campaign can group
the finding with the same failure on a case torchao gets right (:mod:`harness.check.groups`); it does not judge
it. The case is NEW either way, since the candidate's result is not torchao's.
"""

from __future__ import annotations

from typing import Iterable, Optional

from torch.fx import GraphModule

from harness.check.invariants import CheckContext, Violation, check_all
from harness.check.invariants.expected import expected_groups_from_upstream

__all__ = ["beyond_upstream"]


def beyond_upstream(original: GraphModule, candidate: GraphModule, upstream: Optional[GraphModule], *, is_qat: bool,
                    checks: Iterable[str]) -> list[Violation]:
    """The violations of ``candidate``'s result, prepared from (a build of) ``original``, against torchao's own
    sharing groups of ``original``, for each invariant of ``checks`` that ``upstream``'s result (``None``: torchao
    raised) does not break against them (the module's rule). ``original`` must be unmutated."""
    try:
        expected = expected_groups_from_upstream(original)
    except Exception:  # noqa: BLE001 - torchao's grouping fails on this case: no expectation of its own to check by
        return []
    checks = list(checks)

    def violations(prepared: GraphModule) -> list[Violation]:
        return check_all(CheckContext(original=original, prepared=prepared, is_qat=is_qat, expected_groups=expected),
                         only=checks)

    torchao_breaks = set() if upstream is None else {v.check for v in violations(upstream)}
    return [v for v in violations(candidate) if v.check not in torchao_breaks]
