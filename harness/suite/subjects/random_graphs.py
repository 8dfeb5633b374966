"""The random graphs the suite checks: the profile's example budget is split into chunks of at most
:data:`EXAMPLES_PER_CHUNK` examples, one test each (in parallel under ``-n``), and each chunk has its hypothesis
seed (from ``--pt2e-seed``, else fixed in deterministic profiles, else random) and draws its graphs from
:func:`harness.strategies.graphs` within the profile's graph size.

The vocabulary is the quantizer campaign's (``python -m harness fuzz --quantizer``): the whole op table
(:data:`harness.strategies.GENERATED_OPS`, every op the annotators of real quantizers name that a module program
can produce, half the ops drawn from the table's first entries) with motifs (the fused patterns quantizers match,
conv→batch norm→relu, linear→relu, attention...). A quantizer must not pass only because the op or the pattern its
annotator mishandles was never built."""

from __future__ import annotations

import math
import random
import zlib
from typing import Any

from harness import strategies
from harness.suite.options import SuiteOptions
from harness.suite.subjects.subject import Subject

__all__ = ["EXAMPLES_PER_CHUNK", "chunk_subjects", "chunk_examples", "chunk_seed", "graph_strategy"]

EXAMPLES_PER_CHUNK = 10  # random graphs are split into tests of at most this many examples (parallel under -n)


def chunk_subjects(options: SuiteOptions) -> list[Subject]:
    """The ``random`` subjects of a run: one per chunk of the example budget (none for a budget of 0)."""
    examples = options.budget.examples
    chunks = math.ceil(examples / EXAMPLES_PER_CHUNK) if examples > 0 else 0
    return [Subject("random", str(i)) for i in range(chunks)]


def chunk_examples(options: SuiteOptions, chunk: int) -> int:
    """How many examples chunk ``chunk`` draws (0 past the end of the budget)."""
    return max(0, min(EXAMPLES_PER_CHUNK, options.budget.examples - chunk * EXAMPLES_PER_CHUNK))


def chunk_seed(options: SuiteOptions, chunk: int) -> int:
    """The hypothesis seed of a chunk: from ``--pt2e-seed``, fixed in deterministic profiles, else random."""
    if options.seed is not None:
        return options.seed * 1000 + chunk
    if options.budget.deterministic:
        return zlib.crc32(f"pt2e-random-graphs:{chunk}".encode())
    return random.SystemRandom().randrange(2**32)


def graph_strategy(options: SuiteOptions) -> Any:
    """The hypothesis strategy of the random graphs (1 to the profile's ``max_nodes`` nodes, the whole vocabulary,
    motifs)."""
    return strategies.graphs(min_nodes=1, max_nodes=options.budget.max_nodes, ops=strategies.GENERATED_OPS,
                             motifs=True)
