"""A failure torchao masks: a NEW failure on a case torchao fails too, which torchao shares on a smaller case.

A candidate's failure on a case is NEW when torchao, run on the same case, does not fail the same way
(:mod:`harness.check.run`). When torchao fails there too, differently (``upstream-fails-too X``), one of its own
failures may hide another: on a case with a ``SharedQuantizationSpec`` loop *and* an ``input_qspec_map`` entry
naming a node that is not an input, torchao's grouping recurses (``RecursionError``) before it would be lenient
about the entry (``ao-lenient-not-an-input``). A candidate whose grouping does not recurse there is lenient as torchao
is, and fails ``X``, the lenient failure alone: it is NEW only because torchao's first failure masks its second.

The rule: while a finding signed ``upstream-fails-too X`` is shrunk, a smaller case on which the candidate fails
``X`` (the same divergences and invariants, :attr:`harness.check.run.Report.failure`) and torchao, re-run on it,
fails the same way (the triage is not ``new``: a known bug, or a disagreement to judge) is the same failure,
unmasked. The reducer follows it (:func:`harness.fuzz.reduce.shrink_case`'s ``unmasks``), and the finding is what
that smaller case is: a known upstream bug when one names it. The verdict is earned on the case the finding is saved
as: torchao fails that case the same way. Nothing follows when the candidate's failure holds more than torchao's
(``X`` with an invariant torchao's own result meets): no smaller case makes torchao fail ``X``.
"""

from __future__ import annotations

from typing import Any

from harness.check.groups import UPSTREAM_FAILS_TOO, failure_of
from harness.check.run import TRIAGE_NEW

__all__ = ["unmasked", "found_as_note"]


def unmasked(report: Any, signature: str) -> bool:
    """Whether ``report``, the check of a smaller case of a finding signed ``signature``, shows that finding's failure
    unmasked: ``signature`` is ``upstream-fails-too X``, and on this case the candidate fails ``X`` and torchao fails
    the same way (the module's rule)."""
    if not signature.startswith(UPSTREAM_FAILS_TOO + " ") or not getattr(report, "failed", False):
        return False
    return report.triage != TRIAGE_NEW and report.failure == failure_of(signature)


def found_as_note(found_as: str) -> str:
    """The first line of the summary and notes of a finding shrinking unmasked, found signed ``found_as``."""
    return (f"found as {found_as}: NEW on the case as found, where torchao fails otherwise; on this smaller case "
            "torchao fails the same way (harness.check.masked)")
