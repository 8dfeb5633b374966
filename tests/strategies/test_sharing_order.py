"""The order valid annotations give their specs in (harness.strategies.valid): annotation order, as real quantizers
annotate, and a drawn order one time in four, which also anchors shares later in graph order (pytorch/ao#4421)."""

from __future__ import annotations

import random

from harness import strategies as S
from harness.case import SharedSpec
from harness.strategies.fast import fast_example


def test_later_anchored_sharing_is_drawn_but_is_the_exception():
    """Annotation order is the common processing order (as real quantizers annotate); a drawn order, one time in
    four, still anchors shares later in graph order (pytorch/ao#4421's trigger), so a campaign meets it."""
    strategy = S.cases(sharing_order="any")
    cases = [fast_example(strategy, random.Random(f"order:{i}")) for i in range(300)]
    sharing = [c for c in cases if any(isinstance(spec, SharedSpec) for a in c.annotations
                                       for spec in (a.output, *(s for _, s in a.inputs)))]
    later = [c for c in sharing if S.later_anchored_shares(c)]
    assert len(sharing) >= 100
    assert 0.05 * len(sharing) <= len(later) <= 0.3 * len(sharing), (len(later), len(sharing))
