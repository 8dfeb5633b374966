"""Drawing from our strategies without hypothesis's engine: a fast source of random cases for the fuzz campaign.

A hypothesis draw costs tens of microseconds of bookkeeping (choice sequences, spans, the data tree) that only
shrinking and replay need, and a case takes about a hundred draws: generation cost more than the whole check of a
case. The campaign does not need hypothesis's shrinker (it shrinks failures with its own case-level reducer,
:mod:`harness.fuzz.reduce`), so :func:`fast_example` draws a value of a strategy tree directly from a
``random.Random``: the same strategies, the same ``@st.composite`` code, every primitive drawn uniformly, except
that an integer is its simplest value (nearest 0) one time in eight, as hypothesis also favours it: our strategies
encode "stop adding ops", "the most recent value" and "the first option" as 0.

The rule: each node of the strategy tree is interpreted by its class (``integers``, ``booleans``,
``sampled_from``/``just`` with their maps and filters, ``lists``/``sets`` (unique or not), ``permutations``,
``tuples``, ``builds``, ``one_of``, ``map``, ``filter``, ``flatmap``, ``@st.composite``). A rejected draw
(:func:`assume`, which our strategies call instead of hypothesis's, or a filter that keeps failing) starts the value
over, up to :data:`MAX_REJECTIONS` times (then :class:`FastUnsupported`). A strategy of any other class raises
:class:`FastUnsupported` naming it, and the caller goes back to hypothesis; so does an installed hypothesis whose
strategy classes the handlers cannot read (checked once, by drawing a probe that uses every handler). Draws are a
function of the ``Random``'s state: the same seed gives the same cases.
"""

from __future__ import annotations

import functools
import random
import threading
from typing import Any, Callable

import hypothesis
from hypothesis.errors import UnsatisfiedAssumption
from hypothesis.strategies._internal.lazy import unwrap_strategies

__all__ = ["FastUnsupported", "assume", "fast_example", "MAX_REJECTIONS"]

MAX_REJECTIONS = 100
SIMPLEST_SHARE = 0.125  # integers: the share of draws that give the simplest value (the one nearest 0)
_FILTER_TRIES = 50
_UNBOUNDED_SPAN = 1 << 16  # integers without a bound are drawn within this distance of the one they have
_LIST_EXTRA = 5  # lists without max_size get at most this many elements over min_size


class FastUnsupported(Exception):
    """The strategy tree holds something :func:`fast_example` cannot draw (the message names it)."""


class _Rejected(Exception):
    """This draw cannot be completed (an assumption or a filter failed): start the value over."""


_fast = threading.local()


def assume(condition: object) -> None:
    """``hypothesis.assume`` for our strategies: inside :func:`fast_example` a false ``condition`` starts the value
    over (hypothesis deprecates its own ``assume`` outside a test)."""
    if getattr(_fast, "active", False):
        if not condition:
            raise _Rejected
        return
    hypothesis.assume(condition)


@functools.lru_cache(maxsize=1)
def _interpreter_problem() -> str:
    """What goes wrong when every handler draws once ("" when nothing does): the handlers read attributes of
    hypothesis's own strategy classes, which a hypothesis release may rename; then the caller falls back."""
    @hypothesis.strategies.composite
    def probe(draw):
        st = hypothesis.strategies
        return (draw(st.integers(0, 3)), draw(st.booleans()), draw(st.sampled_from("ab").map(str.upper)),
                draw(st.lists(st.integers(0, 9), max_size=2)), draw(st.lists(st.integers(0, 9), unique=True,
                                                                               max_size=2)),
                draw(st.sets(st.tuples(st.just(1)), max_size=1)), draw(st.permutations([1, 2])),
                draw(st.one_of(st.just(0), st.just(1))), draw(st.integers(0, 9).filter(lambda x: str(x) != "3")),
                draw(st.integers(1, 2).flatmap(lambda n: st.lists(st.booleans(), min_size=n, max_size=n))),
                draw(st.builds(list)))

    try:
        _Drawer(random.Random(0)).draw(probe())
    except Exception as e:  # noqa: BLE001 - any failure of the interpreter itself
        return f"{type(e).__name__}: {e}"
    return ""


def fast_example(strategy: Any, rng: random.Random) -> Any:
    """A value of ``strategy`` drawn from ``rng`` (see the module docstring)."""
    problem = _interpreter_problem()
    if problem:
        raise FastUnsupported(f"this hypothesis ({hypothesis.__version__}) is not the one the fast source reads: "
                              f"{problem}")
    outer = getattr(_fast, "active", False)
    _fast.active = True
    try:
        for _ in range(MAX_REJECTIONS):
            try:
                return _Drawer(rng).draw(strategy)
            except (_Rejected, UnsatisfiedAssumption):
                continue
    finally:
        _fast.active = outer
    raise FastUnsupported(f"{MAX_REJECTIONS} draws in a row were rejected (assume or filter) by {strategy!r:.200}")


# strategy id -> (the strategy, kept alive so that its id stays its own; what it unwraps to; its handler): a
# strategy is unwrapped once, not at each of the hundred or so draws of a case (a lazy strategy resolves once anyway)
_RESOLVED: dict[int, tuple[Any, Any, Any]] = {}
_RESOLVED_SIZE = 4096


class _Drawer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def draw(self, strategy: Any) -> Any:
        resolved = _RESOLVED.get(id(strategy))
        if resolved is None:
            s = unwrap_strategies(strategy)
            handler = _HANDLERS.get(type(s).__name__)
            if handler is None:
                raise FastUnsupported(f"cannot draw {type(s).__name__} ({s!r:.200}) without hypothesis")
            if len(_RESOLVED) >= _RESOLVED_SIZE:
                _RESOLVED.clear()
            resolved = _RESOLVED[id(strategy)] = (strategy, s, handler)
        return resolved[2](self, resolved[1])

    # -- primitives ---------------------------------------------------------------------------------------
    def integers(self, s: Any) -> int:
        lo, hi = s.start, s.end
        if lo is None and hi is None:
            lo, hi = -_UNBOUNDED_SPAN, _UNBOUNDED_SPAN
        elif lo is None:
            lo = hi - _UNBOUNDED_SPAN
        elif hi is None:
            hi = lo + _UNBOUNDED_SPAN
        if self.rng.random() < SIMPLEST_SHARE:
            return min(max(0, lo), hi)  # the simplest value, as hypothesis favours it: shorter graphs, chains
        return self.rng.randint(lo, hi)

    def booleans(self, s: Any) -> bool:
        return self.rng.random() < 0.5

    def sampled(self, s: Any) -> Any:
        for _ in range(_FILTER_TRIES):
            value = _transformed(s, self.rng.choice(s.elements))
            if value is not _NO:
                return value
        raise _Rejected

    # -- containers -----------------------------------------------------------------------------------------
    def _size(self, s: Any, most: int | None = None) -> int:
        hi = s.max_size if s.max_size is not None and s.max_size != float("inf") else s.min_size + _LIST_EXTRA
        if most is not None:
            hi = min(hi, most)
        if hi < s.min_size:
            raise _Rejected
        return self.rng.randint(s.min_size, int(hi))

    def lists(self, s: Any) -> list:
        return [self.draw(s.element_strategy) for _ in range(self._size(s))]

    def unique_lists(self, s: Any) -> list:
        n = self._size(s)
        out: list = []
        seen: list = [set() for _ in s.keys]
        for _ in range(n * _FILTER_TRIES):
            if len(out) == n:
                break
            value = self.draw(s.element_strategy)
            ks = [key(value) for key in s.keys]
            if any(k in got for k, got in zip(ks, seen)):
                continue
            for k, got in zip(ks, seen):
                got.add(k)
            out.append(value)
        if len(out) < s.min_size:
            raise _Rejected
        return out

    def unique_sampled_lists(self, s: Any) -> list:
        element = unwrap_strategies(s.element_strategy)
        values = [v for v in (_transformed(element, e) for e in element.elements) if v is not _NO]
        distinct: list = []
        keys: list = [set() for _ in s.keys]
        for v in self.rng.sample(values, len(values)):
            ks = [key(v) for key in s.keys]
            if not any(k in got for k, got in zip(ks, keys)):
                for k, got in zip(ks, keys):
                    got.add(k)
                distinct.append(v)
        n = self._size(s, len(distinct))
        return distinct[:n]

    def permutation(self, s: Any) -> list:
        values = list(s.values)
        self.rng.shuffle(values)
        return values

    def tuples(self, s: Any) -> tuple:
        return tuple(self.draw(e) for e in s.element_strategies)

    def one_of(self, s: Any) -> Any:
        return self.draw(self.rng.choice(s.original_strategies))

    # -- combinators ------------------------------------------------------------------------------------------
    def mapped(self, s: Any) -> Any:
        return s.pack(self.draw(s.mapped_strategy))

    def filtered(self, s: Any) -> Any:
        for _ in range(_FILTER_TRIES):
            value = self.draw(s.filtered_strategy)
            if all(cond(value) for cond in s.flat_conditions):
                return value
        raise _Rejected

    def flatmapped(self, s: Any) -> Any:
        return self.draw(s.expand(self.draw(s.base)))

    def composite(self, s: Any) -> Any:
        return s.definition(self.draw, *s.args, **s.kwargs)

    def builds(self, s: Any) -> Any:
        return s.target(*(self.draw(a) for a in s.args), **{k: self.draw(v) for k, v in s.kwargs.items()})


_NO = object()


def _transformed(s: Any, value: Any) -> Any:
    """``value`` through a ``sampled_from``'s maps and filters, or ``_NO`` when a filter drops it."""
    for kind, fn, *_ in s._transformations:
        if kind == "map":
            value = fn(value)
        elif not fn(value):
            return _NO
    return value


_HANDLERS: dict[str, Callable[[_Drawer, Any], Any]] = {
    "IntegersStrategy": _Drawer.integers,
    "BooleansStrategy": _Drawer.booleans,
    "SampledFromStrategy": _Drawer.sampled,
    "JustStrategy": _Drawer.sampled,
    "ListStrategy": _Drawer.lists,
    "UniqueListStrategy": _Drawer.unique_lists,
    "UniqueSampledListStrategy": _Drawer.unique_sampled_lists,
    "PermutationStrategy": _Drawer.permutation,
    "TupleStrategy": _Drawer.tuples,
    "OneOfStrategy": _Drawer.one_of,
    "MappedStrategy": _Drawer.mapped,
    "FilteredStrategy": _Drawer.filtered,
    "FlatMapStrategy": _Drawer.flatmapped,
    "CompositeStrategy": _Drawer.composite,
    "BuildsStrategy": _Drawer.builds,
}
