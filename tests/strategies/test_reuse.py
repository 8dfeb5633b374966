"""harness.strategies.reuse: one strategy object per arguments, and spans drawn without new strategy objects."""

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.strategies.reuse import _pending, ints, reused, sampled, spanned


def test_same_arguments_same_strategy_object():
    @reused
    @st.composite
    def pair(draw, n):
        return draw(st.integers(0, n)), n

    assert pair(3) is pair(3)
    assert pair(3) is not pair(4)
    assert ints(0, 5) is ints(0, 5)
    assert sampled(["a", "b"]) is sampled(("a", "b"))


def test_unhashable_arguments_still_work():
    assert sampled([["a"], ["b"]]) is not sampled([["a"], ["b"]])

    @reused
    @st.composite
    def first(draw, options):
        return options[draw(st.integers(0, len(options) - 1))]

    @settings(max_examples=20, database=None)
    @given(first([1, 2, 3]), sampled([[1], [2]]))
    def check(x, y):
        assert x in (1, 2, 3) and y in ([1], [2])

    check()


def _step(draw, state: list, limit: int) -> int:
    value = draw(st.integers(0, limit))
    state.append(value)
    return value


@st.composite
def _steps(draw):
    state: list = []
    out = [spanned(draw, _step, state, k) for k in (1, 5, 9)]
    return out, state


@settings(max_examples=30, database=None)
@given(_steps())
def test_spanned_calls_the_function_with_its_arguments(steps):
    out, state = steps
    assert out == state
    assert [0 <= v <= k for v, k in zip(out, (1, 5, 9))] == [True] * 3
    assert not _pending.stack  # nothing left behind
