"""Cases as the sequences of random choices that drew them, and the mutations of those sequences (the way hypothesis
and HypoFuzz mutate a test case, below the level of ops and motifs).

The rule: :func:`harness.strategies.fast.fast_example` draws a case from a ``random.Random``, and every method it
calls (``random``, ``randint``, ``choice``, ``sample``, ``shuffle``) comes down to two primitives, ``random()`` and
``getrandbits(k)``. A :class:`ChoiceRandom` answers those from a given sequence of choices (a *prefix*), then from
a fresh generator past its end, and records what it answered: the recorded sequence draws the same case again
(:func:`harness.strategies.fast.fast_example` is a function of the draws). A choice is a float in [0, 1) or
``(k, bits)``; asked for the other kind at a position (the edited sequence took another path), it gives the same
relative value in the kind asked for, so an edit's effect stays local where the strategy allows.

:func:`mutate` edits a sequence: change a few choices, zero one (hypothesis's "simplest": no more ops, the first
option), delete a span, duplicate a span (an op, a motif, a subgraph drawn twice), splice two sequences, or redraw
the first choice alone (the outermost decision: a quantizer's configuration variant, the same graph kept) or one of
the last two (the flags drawn after the graph: QAT, strict export). The
result always decodes to a valid case: the strategies bound every value they draw, and a sequence that ends early
goes on with fresh randomness. None of this knows the ops, so it stays valid as the op vocabulary grows.
"""

from __future__ import annotations

import random
from typing import Optional, Sequence, Union

__all__ = ["Choice", "ChoiceRandom", "mutate", "MUTATIONS"]

Choice = Union[float, tuple[int, int]]  # random() -> float; getrandbits(k) -> (k, bits)


class ChoiceRandom(random.Random):
    """A ``Random`` answering from ``prefix`` first, then from a generator seeded with ``seed``; ``recorded`` holds
    every choice it gave (the sequence that draws the same values again)."""

    def __init__(self, prefix: Sequence[Choice] = (), seed: Optional[int] = None) -> None:
        self._fresh = random.Random(seed)
        self.prefix = list(prefix)
        self.recorded: list[Choice] = []
        super().__init__(0)

    def seed(self, *args, **kwargs) -> None:  # random.Random.__init__ calls it: the state lives in _fresh
        pass

    def _next(self) -> Optional[Choice]:
        i = len(self.recorded)
        return self.prefix[i] if i < len(self.prefix) else None

    def random(self) -> float:
        choice = self._next()
        if choice is None:
            value = self._fresh.random()
        elif isinstance(choice, tuple):
            k, bits = choice
            value = bits / (1 << k) if k else 0.0
        else:
            value = choice
        self.recorded.append(value)
        return value

    def getrandbits(self, k: int) -> int:
        choice = self._next()
        if choice is None:
            bits = self._fresh.getrandbits(k) if k else 0
        elif isinstance(choice, tuple):
            j, old = choice
            bits = old >> (j - k) if j >= k else old << (k - j) | self._fresh.getrandbits(k - j)
        else:
            bits = int(choice * (1 << k))
        self.recorded.append((k, bits))
        return bits


def _fresh_like(choice: Choice, rng: random.Random) -> Choice:
    if isinstance(choice, tuple):
        return (choice[0], rng.getrandbits(choice[0]) if choice[0] else 0)
    return rng.random()


def _zero(choice: Choice) -> Choice:
    return (choice[0], 0) if isinstance(choice, tuple) else 0.0


def _span(n: int, rng: random.Random) -> tuple[int, int]:
    start = rng.randrange(n)
    return start, min(n, start + 1 + int(rng.expovariate(1 / 8)))


def _change(seq: list, rng: random.Random, other: Sequence[Choice]) -> list:
    out = list(seq)
    for _ in range(1 + int(rng.expovariate(1.0))):
        i = rng.randrange(len(out))
        out[i] = _fresh_like(out[i], rng)
    return out


def _simplest(seq: list, rng: random.Random, other: Sequence[Choice]) -> list:
    out = list(seq)
    i = rng.randrange(len(out))
    out[i] = _zero(out[i])
    return out


def _delete(seq: list, rng: random.Random, other: Sequence[Choice]) -> list:
    start, end = _span(len(seq), rng)
    return seq[:start] + seq[end:]


def _duplicate(seq: list, rng: random.Random, other: Sequence[Choice]) -> list:
    start, end = _span(len(seq), rng)
    return seq[:end] + seq[start:end] + seq[end:]


def _splice(seq: list, rng: random.Random, other: Sequence[Choice]) -> list:
    if not other:
        return _change(seq, rng, other)
    cut, at = rng.randrange(len(seq) + 1), rng.randrange(len(other))
    return seq[:cut] + list(other[at:])


def _truncate(seq: list, rng: random.Random, other: Sequence[Choice]) -> list:
    return seq[:rng.randrange(len(seq) + 1)]


def _change_first(seq: list, rng: random.Random, other: Sequence[Choice]) -> list:
    """The first choice redrawn, the rest kept: the case's outermost decision (a quantizer campaign's configuration
    variant, harness.suite.fuzz_target) changed, the same case otherwise."""
    return [_fresh_like(seq[0], rng)] + seq[1:]


def _change_last(seq: list, rng: random.Random, other: Sequence[Choice]) -> list:
    """One of the last two choices redrawn, the rest kept: the decisions drawn after the graph (a quantizer
    campaign's QAT and strict-export flags, harness.suite.fuzz_target) changed, the same graph otherwise."""
    out = list(seq)
    i = len(out) - 1 - rng.randrange(min(2, len(out)))
    out[i] = _fresh_like(out[i], rng)
    return out


MUTATIONS = (_change, _change, _simplest, _delete, _duplicate, _duplicate, _splice, _truncate, _change_first,
             _change_last)


def mutate(seq: Sequence[Choice], rng: random.Random, other: Sequence[Choice] = ()) -> list[Choice]:
    """``seq`` with one to three random edits (:data:`MUTATIONS`; ``other``: a second sequence to splice with)."""
    out = list(seq)
    for _ in range(rng.randint(1, 3)):
        if not out:
            break
        out = rng.choice(MUTATIONS)(out, rng, other)
    return out
