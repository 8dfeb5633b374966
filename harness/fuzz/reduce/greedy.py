"""The greedy reducer: the smallest case, one edit at a time, that still fails the same way.

The rule: :func:`shrink_case` tries the edits of :mod:`harness.fuzz.reduce.edits` in order, keeps the first whose case
still fails with *the same signature*, and starts over, until no edit applies (a fixpoint) or the deadline passes.
One move is allowed besides: when ``unmasks(report, signature)`` says a smaller case shows the same failure unmasked
(:mod:`harness.check.masked`: the failure torchao fails differently on the case as found, torchao fails the same way
on the smaller one), that case is kept and its signature is the one the rest of the shrinking keeps.
Every check runs under the case time limit (:func:`harness.common.timelimit.call_with_time_limit`): a check over it
has the signature ``timeout`` (so a hang shrinks as a hang, and any other case that hangs is not the same
failure); a candidate that escapes with ``SystemExit`` & co. has ``crash: <type>``; a case the check cannot even
run (it does not build) is rejected. The fuzz workers shrink their findings with it, and so does
``python -m harness shrink``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from harness.case import Case
from harness.common.timelimit import TimeLimitExceeded, call_with_time_limit
from harness.fuzz.reduce.edits import smaller_cases
from harness.fuzz.target import CandidateEscaped

__all__ = ["Attempt", "attempt", "shrink_case"]


@dataclass
class Attempt:
    """One check of one case: its signature ("" when it passes) and the report (None for a timeout or crash)."""

    signature: str
    report: Any = None


def attempt(check: Callable[[Case], Any], case: Case, case_timeout: float) -> Optional[Attempt]:
    """``check(case)`` under the time limit, as an :class:`Attempt`; None when the check cannot run on the case."""
    try:
        report = call_with_time_limit(check, case_timeout, case, what="the check of the case")
    except TimeLimitExceeded:
        return Attempt("timeout")
    except CandidateEscaped as e:
        return Attempt(f"crash: {type(e.error).__name__}")
    except Exception:  # noqa: BLE001 - an edit gave a case that does not build: not the same failure
        return None
    return Attempt(report.signature if report.failed else "", report)


def shrink_case(case: Case, check: Callable[[Case], Any], signature: str, *, annotations: bool = True,
                case_timeout: float = 10.0, deadline: Optional[float] = None,
                progress: Optional[Callable[[Case], None]] = None,
                unmasks: Optional[Callable[[Any, str], bool]] = None) -> tuple[Case, Optional[Attempt], int]:
    """The smallest case the greedy reducer reaches that still fails with ``signature`` (or with the signature of a
    case ``unmasks`` moved to, the module's rule): (case, its attempt or None when nothing smaller was kept, the
    number of checks run)."""
    current, last, checks = case, None, 0

    def key(c: Case) -> tuple:  # what the edits change (expected and info hold unhashable data)
        return c.graph, c.annotations, c.is_qat, c.quantizer_config, c.strict_export

    seen = {key(case)}
    changed = True
    while changed:
        changed = False
        for smaller in smaller_cases(current, annotations):
            if deadline is not None and time.time() > deadline:
                return current, last, checks
            if key(smaller) in seen:
                continue
            seen.add(key(smaller))
            checks += 1
            result = attempt(check, smaller, case_timeout)
            if result is not None and (result.signature == signature or (
                    unmasks is not None and result.report is not None and unmasks(result.report, signature))):
                current, last, changed, signature = smaller, result, True, result.signature
                if progress is not None:
                    progress(current)
                break
    return current, last, checks
