"""Reusing strategy objects: each call of a ``@st.composite`` factory makes a new strategy, which hypothesis
validates (and computes emptiness of) on its first draw; drawn once per op or spec, that is a large share of the
generation time. The rule: the strategy drawn is the same object for the same arguments, so the choices drawn,
the spans (one per call, labelled by the function) and therefore the cases and their shrinking are unchanged.

* :func:`reused` caches a composite factory's strategies by their (hashable) arguments;
* :data:`BOOLS`, :func:`ints` and :func:`sampled` are ``st.booleans()``, ``st.integers(lo, hi)`` and
  ``st.sampled_from(options)``, one object per arguments (``sampled_from`` of a list is otherwise a new strategy
  per call, and even hypothesis's own cache of the others costs more than the draw);
* :func:`spanned` draws ``fn(draw, *args)`` as one span through one strategy object per ``fn``, for arguments
  that are per case (mutable state), which a cache cannot key on.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable

from hypothesis import strategies as st

__all__ = ["BOOLS", "ints", "reused", "sampled", "spanned"]

_CACHE_SIZE = 4096


def reused(factory: Callable[..., st.SearchStrategy]) -> Callable[..., st.SearchStrategy]:
    """``factory`` returning one strategy object per distinct (hashable) arguments; unhashable ones get a new one."""
    cached = functools.lru_cache(maxsize=_CACHE_SIZE)(factory)

    @functools.wraps(factory)
    def call(*args: Any, **kwargs: Any) -> st.SearchStrategy:
        try:
            return cached(*args, **kwargs)
        except TypeError:  # an unhashable argument (a list of ops...)
            return factory(*args, **kwargs)

    return call


BOOLS = st.booleans()
ONE_IN_FOUR = st.integers(0, 3)  # 3 one time in four; shrinks to 0


@functools.lru_cache(maxsize=_CACHE_SIZE)
def ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    """``st.integers(lo, hi)``, one object per bounds."""
    return st.integers(lo, hi)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _sampled(options: tuple) -> st.SearchStrategy:
    return st.sampled_from(options)


def sampled(options) -> st.SearchStrategy:
    """``st.sampled_from(options)`` (draws the same index, shrinks the same way), one object per options."""
    options = tuple(options)
    try:
        return _sampled(options)
    except TypeError:  # unhashable options
        return st.sampled_from(options)


_pending = threading.local()
_span_strategies: dict[Callable, st.SearchStrategy] = {}


def _span_strategy(fn: Callable) -> st.SearchStrategy:
    strategy = _span_strategies.get(fn)
    if strategy is None:
        def body(draw):
            call_args = _pending.stack.pop()
            return fn(draw, *call_args)

        body.__name__ = body.__qualname__ = fn.__name__  # the span's label: one per function, as a composite's
        strategy = _span_strategies[fn] = st.composite(body)()
    return strategy


def spanned(draw: Callable, fn: Callable, *args: Any) -> Any:
    """``fn(draw', *args)`` drawn as one span (like ``draw(composite_fn(*args))``) without a new strategy object."""
    if not hasattr(_pending, "stack"):
        _pending.stack = []
    stack = _pending.stack
    depth = len(stack)
    stack.append(args)
    try:
        return draw(_span_strategy(fn))
    finally:
        del stack[depth:]  # the draw was cut short before ``fn`` ran (an overrun): forget its arguments
