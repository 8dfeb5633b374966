"""The scenarios of ``corpus/conformance`` and ``corpus/upstream_bugs``, built as case data, with hand checks.

The JSON files under ``corpus/`` are the data of record; this package only (re)generates them::

    python -m harness scenarios            # rewrite both directories (stale files are removed)
    python -m harness scenarios --check    # exit 1 if the files on disk are not what this package generates

Each :class:`Scenario` is a :class:`harness.case.Case` (without ``expected``) plus what its author expects,
written by hand: the sharing partition of the observed keys (``groups``), the keys that are annotated but not
observed (``unobserved``), observer fields of some keys (``observers``) or the reference's typed error
(``error``). :func:`expected_from_reference` computes ``expected`` with the reference prepare, and
:func:`check_expectation` compares the two, so a scenario whose reference result is not what it means can
never be written (and ``tests/corpus/test_corpus_replay.py`` re-checks the stored files the same way).

Modules: :mod:`.builders` (specs, nodes, annotations), :mod:`.scenario` (the data type), :mod:`.conformance`
and :mod:`.upstream_bugs` (the scenarios), :mod:`.expectation` (reference result and hand checks),
:mod:`.regenerate` (the files and the command).
"""

from harness.corpus.scenarios.conformance import (
    CALLBACK_SCALE,
    CALLBACK_TAG,
    CALLBACK_ZERO_POINT,
    conformance_scenarios,
)
from harness.corpus.scenarios.expectation import check_expectation, expected_from_reference, expected_partition
from harness.corpus.scenarios.regenerate import all_scenarios, differences, generate, main, with_expected
from harness.corpus.scenarios.scenario import DIRECTORIES, Scenario
from harness.corpus.scenarios.upstream_bugs import DEEP_CHAIN_LENGTH, upstream_bug_scenarios

__all__ = [
    "CALLBACK_TAG",
    "CALLBACK_SCALE",
    "CALLBACK_ZERO_POINT",
    "DEEP_CHAIN_LENGTH",
    "DIRECTORIES",
    "Scenario",
    "all_scenarios",
    "check_expectation",
    "conformance_scenarios",
    "differences",
    "expected_from_reference",
    "expected_partition",
    "generate",
    "main",
    "upstream_bug_scenarios",
    "with_expected",
]
