"""The fast source (harness.strategies.fast): our strategies drawn from a seeded Random, without hypothesis's engine."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import prepare_impl
from harness.check.run import check_case
from harness.fuzz.target import case_strategy
from harness.fx.build import build
from harness.strategies.fast import FastUnsupported, assume, fast_example


def _draws(strategy, n=300, seed=0):
    rng = random.Random(seed)
    return [fast_example(strategy, rng) for _ in range(n)]


def test_primitives_keep_their_bounds_and_reach_both_ends():
    ints = _draws(st.integers(3, 7))
    assert set(ints) == {3, 4, 5, 6, 7}
    assert set(_draws(st.booleans())) == {False, True}
    assert set(_draws(st.sampled_from("abc"))) == set("abc")
    assert set(_draws(st.just(5), n=5)) == {5}
    assert all(-(1 << 16) <= x <= 10 for x in _draws(st.integers(max_value=10)))


def test_containers_keep_sizes_uniqueness_and_elements():
    for xs in _draws(st.lists(st.integers(0, 3), min_size=1, max_size=3)):
        assert 1 <= len(xs) <= 3 and all(0 <= x <= 3 for x in xs)
    for xs in _draws(st.lists(st.integers(0, 9), min_size=2, max_size=4, unique=True)):
        assert 2 <= len(xs) <= 4 and len(set(xs)) == len(xs)
    for xs in _draws(st.sets(st.integers(1, 4), min_size=1, max_size=3)):
        assert isinstance(xs, set) and 1 <= len(xs) <= 3 and xs <= {1, 2, 3, 4}
    for xs in _draws(st.lists(st.tuples(st.integers(0, 50)), unique_by=lambda t: t[0], max_size=4)):
        assert len({t[0] for t in xs}) == len(xs) <= 4
    assert {tuple(p) for p in _draws(st.permutations([1, 2, 3]))} == {(1, 2, 3), (1, 3, 2), (2, 1, 3), (2, 3, 1),
                                                                       (3, 1, 2), (3, 2, 1)}
    assert _draws(st.permutations([]), n=3) == [[], [], []]
    assert all(len(t) == 2 and isinstance(t[1], bool) for t in _draws(st.tuples(st.just(1), st.booleans())))


def test_combinators_map_filter_flatmap_one_of_builds_and_composite():
    assert all(x % 2 == 0 for x in _draws(st.integers(0, 20).filter(lambda x: x % 2 == 0)))
    assert set(_draws(st.sampled_from([1, 2, 3]).map(str).filter(lambda x: x != "2"))) == {"1", "3"}
    assert all(isinstance(x, str) for x in _draws(st.integers(0, 3).map(str)))
    assert all(len(xs) == n for n, xs in _draws(st.integers(1, 3).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.booleans(), min_size=n, max_size=n)))))
    assert set(_draws(st.one_of(st.just("a"), st.just("b")))) == {"a", "b"}
    assert all(d == {"a": 1} for d in _draws(st.builds(dict, a=st.just(1)), n=5))

    @st.composite
    def pair(draw, top):
        a = draw(st.integers(0, top))
        b = draw(st.integers(a, top))
        return a, b

    assert all(0 <= a <= b <= 9 for a, b in _draws(pair(9)))


def test_the_same_seed_gives_the_same_cases_and_another_seed_others():
    strategy = case_strategy("mixed", 8)
    assert _draws(strategy, n=20, seed=4) == _draws(strategy, n=20, seed=4)
    assert _draws(strategy, n=20, seed=4) != _draws(strategy, n=20, seed=5)


def test_what_it_cannot_draw_is_named():
    with pytest.raises(FastUnsupported, match="FloatStrategy|floats"):
        fast_example(st.floats(0, 1), random.Random(0))
    with pytest.raises(FastUnsupported, match="rejected"):
        fast_example(st.integers(0, 3).filter(lambda x: str(x) == "9"), random.Random(0))


def test_assume_starts_the_value_over_inside_and_is_hypothesis_s_outside():
    @st.composite
    def even(draw):
        x = draw(st.integers(0, 9))
        assume(x % 2 == 0)
        return x

    assert all(x % 2 == 0 for x in _draws(even()))
    seen = []

    @settings(max_examples=30, database=None)
    @given(even())
    def test(x):
        seen.append(x)

    test()
    assert seen and all(x % 2 == 0 for x in seen)


@pytest.mark.parametrize("mode", ["valid", "adversarial"])
def test_fast_cases_build_and_the_reference_passes_its_own_check(mode):
    """Every drawn case is one the check can run, and the reference against itself fails none of them (no false
    finding comes from the fast source)."""
    cases = _draws(case_strategy(mode, 8), n=60, seed=11)
    assert len({c.graph for c in cases}) > 40  # varied
    for case in cases:
        build(case)
        report = check_case(case, prepare_impl.prepare)
        assert not report.failed, report.summary()


def test_a_hypothesis_whose_classes_it_cannot_read_is_unsupported_not_an_error(monkeypatch):
    """The handlers read attributes of hypothesis's strategy classes; a release renaming one must send the
    campaign back to hypothesis (FastUnsupported), not fill the run with errors."""
    from hypothesis.strategies._internal.numbers import IntegersStrategy

    import harness.strategies.fast as fast

    assert fast._interpreter_problem() == ""
    monkeypatch.delattr(IntegersStrategy, "__init__")  # its objects then have no start/end attributes
    fast._interpreter_problem.cache_clear()
    try:
        with pytest.raises(FastUnsupported, match="not the one the fast source reads"):
            fast_example(st.booleans(), random.Random(0))
    finally:
        monkeypatch.undo()
        fast._interpreter_problem.cache_clear()
    assert fast_example(st.integers(0, 1), random.Random(0)) in (0, 1)
