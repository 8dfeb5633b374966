"""The guided search (``--generation guided``): coverage-guided, the way libFuzzer, Tzer and HypoFuzz search. Cases
that reach new lines of the code under test are kept as seeds and mutated.

The rule: each case is drawn by :func:`harness.fuzz.search_fast.draw` from a :class:`harness.fuzz.choices.ChoiceRandom`,
which records the choices that drew it. With probability at least :data:`UNIFORM_SHARE` (and while there is no seed
yet) the choices are fresh: a uniform case, as ``--generation fast`` draws, so guidance never starves the search.
Otherwise (at least :data:`MUTANT_SHARE` of the cases once there are seeds; more while mutants find more new lines
a second than uniform cases lately, :meth:`Guide.uniform_probability`) a seed is picked, its choices edited (:func:`harness.fuzz.choices.mutate`: change or zero a choice, delete
or duplicate a span, splice with another seed) and replayed, fresh past their end. After the check, the lines the
case reached (:attr:`harness.fuzz.target.Target.reach`) are counted; a case that reached a line no earlier case of
this worker had becomes a seed, and its new lines go to the driver (a :class:`harness.fuzz.events.Reach` event,
:meth:`harness.fuzz.session.Worker.note_reach`), which counts the union over all workers on either engine. A seed
is picked in proportion to its *energy*: the sum over its lines of one over the number of cases that reached the
line (seeds reaching rarely reached lines first), divided by the square root of (one plus the times it was picked)
times its cost in seconds (cheap seeds first, as AFL favours them).
Seeds are not shared between workers (the driver has no channel back to them); each worker grows its own.

A failure is handled as the fast search handles it (:func:`harness.fuzz.search_fast.settle`: pending, shrunk by the
greedy reducer, shrunk). A target that measures no reach (the prepare target) is searched by the fast search, with
a warning.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Optional

from harness.fuzz.choices import Choice, ChoiceRandom, mutate
from harness.fuzz.events import HarnessWarning
from harness.fuzz.search_fast import draw, search_fast, settle
from harness.fuzz.session import Worker

__all__ = ["search_guided", "Seed", "Guide", "UNIFORM_SHARE"]

UNIFORM_SHARE = 0.5  # the least share of cases drawn uniformly, whatever the seeds
MUTANT_SHARE = 0.1  # the least share of cases mutated from seeds, once there are seeds
DECAY = 0.995  # what each way of drawing found and spent fades by, a case (a half-life of about 140 cases)


@dataclass
class Seed:
    """A case that reached new lines: the choices that draw it, every line it reached, and its cost (seconds)."""

    choices: list[Choice]
    lines: frozenset[str]
    seconds: float = 0.0
    picked: int = 0


class Guide:
    """The seeds, how often each line was reached, and what each way of drawing (uniform, mutant) found per second
    so far: which choices to draw the next case from."""

    def __init__(self, rng: random.Random, uniform_share: float = UNIFORM_SHARE) -> None:
        self.rng, self.uniform_share = rng, uniform_share
        self.seeds: list[Seed] = []
        self.hits: dict[str, int] = {}
        self.found = {True: 0.0, False: 0.0}  # uniform? -> new lines found (fading, DECAY)
        self.spent = {True: 0.0, False: 0.0}  # uniform? -> seconds spent (fading)
        self.uniform = True  # how the last prefix was drawn

    def uniform_probability(self) -> float:
        """The chance of a uniform case: the uniform way's share of the new lines found per second, kept within
        [UNIFORM_SHARE, 1 - MUTANT_SHARE] (neither way ever starves)."""
        rate = {arm: (self.found[arm] + 1.0) / (self.spent[arm] + 1.0) for arm in (True, False)}
        return min(1.0 - MUTANT_SHARE, max(self.uniform_share, rate[True] / (rate[True] + rate[False])))

    def next_prefix(self) -> list[Choice]:
        """The choices of the next case: none (a uniform case) or a mutated seed."""
        self.uniform = not self.seeds or self.rng.random() < self.uniform_probability()
        if self.uniform:
            return []
        seed = self._pick()
        seed.picked += 1
        other = self.rng.choice(self.seeds).choices if len(self.seeds) > 1 else ()
        return mutate(seed.choices, self.rng, other)

    def _pick(self) -> Seed:
        energy = [sum(1.0 / self.hits.get(line, 1) for line in s.lines) / math.sqrt((1 + s.picked) * (0.05 + s.seconds))
                  for s in self.seeds]
        return self.rng.choices(self.seeds, weights=energy)[0] if sum(energy) > 0 else self.rng.choice(self.seeds)

    def observe(self, choices: list[Choice], lines: frozenset[str], new: int, seconds: float = 0.0) -> Optional[Seed]:
        """Count the lines a case reached (``new`` of them new, in ``seconds``); a case that reached new lines
        becomes a seed (returned)."""
        for line in lines:
            self.hits[line] = self.hits.get(line, 0) + 1
        for arm in (True, False):
            self.found[arm] *= DECAY
            self.spent[arm] *= DECAY
        self.found[self.uniform] += new
        self.spent[self.uniform] += seconds
        if not new:
            return None
        seed = Seed(list(choices), lines, seconds)
        self.seeds.append(seed)
        return seed


def search_guided(worker: Worker) -> None:
    """Search until the worker's deadline, guided by the lines the target reaches (see the module docstring)."""
    reach = worker.target.reach
    if reach is None:
        worker.emit(HarnessWarning(worker.me, "--generation guided: this target measures no lines reached (only "
                                   "--quantizer campaigns do); this worker goes on with --generation fast"))
        search_fast(worker)
        return
    rng = random.Random(worker.spec.seed)
    guide = Guide(rng)
    while time.time() < worker.search_until:
        started = time.time()
        source = ChoiceRandom(guide.next_prefix(), seed=rng.getrandbits(64))
        case = draw(worker, source)
        if case is None:
            continue
        report = worker.check(case)
        guide.observe(source.recorded, frozenset(reach()), len(worker.note_reach()), time.time() - started)
        if report is None:
            continue
        worker.tick()
        if settle(worker, report):
            break
