"""Shrinking a failing case: the edits that make a case smaller, and the greedy loop that keeps the ones that fail
the same way.

The rule: :mod:`harness.fuzz.reduce.edits` yields every case one edit smaller (pure functions on case data, each
edit well-founded), and :mod:`harness.fuzz.reduce.greedy` keeps the first that still fails with the same signature
until a fixpoint. The fuzz workers shrink their findings with it, and so does ``python -m harness shrink``
(:mod:`harness.fuzz.cli_shrink`, the command-line side).
"""

from __future__ import annotations

from harness.fuzz.reduce.edits import size, smaller_cases
from harness.fuzz.reduce.greedy import Attempt, attempt, shrink_case

__all__ = ["Attempt", "attempt", "shrink_case", "size", "smaller_cases"]
