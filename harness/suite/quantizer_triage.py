"""Known quantizer bugs in the quantizer campaign: a failure that is a judged bug of ``corpus/quantizer_bugs``.

The rule: a new failure of the quantizer ``harness.quantizers:NAME`` (or an unjudged one: torchao's steps around
the quantizer failed in a way :mod:`harness.suite.checks.pipeline_bugs` does not know) is the known bug B when B's
entry (not marked ``fixed``) is of the same factory, records the same failure (its signature with the configuration
variant left out: the same bug met in another variant is that bug), and B's own case, replayed once per process by
the same check, still fails with that failure: the bug is live in the quantizer installed here, and the new case
fails the same way. A person judged B (``docs/upstream-bugs.md``); the match is checked, not assumed. Anything else
stays as it was. A factory of another module (a user's quantizer, a mutant) has no known bugs: its code is not the
judged one.

The entries are read from the project's ``corpus/`` (beside the ``harness`` package, where a checkout or an
editable install has it); without one, nothing is known.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from harness.case import Case
from harness.case.jsonform import CaseFormatError
from harness.check.groups import without_variant
from harness.corpus.quantizer_bugs import FACTORY_MODULE, PROJECT_CORPUS, QuantizerBugEntry, load_entries

__all__ = ["KnownQuantizerBug", "QuantizerBugTriage", "REPLAYS"]

REPLAYS = 3  # tries of an entry's replay (a garbage collection before each: Arm's validate() bug needs it)


@dataclass(frozen=True)
class KnownQuantizerBug:
    """A judged bug of a real quantizer as a campaign names it (``id``, ``title``, ``link``, as a known upstream bug
    of the prepare has them)."""

    id: str
    title: str
    link: str


class QuantizerBugTriage:
    """The known bugs of the factory ``quantizer`` (``MODULE:NAME``); ``replay(case)`` is the campaign's check of a
    case (its failure's signature, or None when it passes)."""

    def __init__(self, quantizer: str, replay: Callable[[Case], Optional[str]], corpus: Path = PROJECT_CORPUS):
        self._replay = replay
        self._live: dict[str, bool] = {}  # entry id -> whether its case still fails with its failure here
        try:  # only factories of FACTORY_MODULE have entries: no other quantizer reads the corpus at start-up
            entries = load_entries(corpus) if quantizer.startswith(f"{FACTORY_MODULE}:") and corpus.is_dir() else []
        except CaseFormatError:  # a broken corpus file: the replay tests say so; here nothing is known
            entries = []
        self._entries = [e for e in entries if e.quantizer == quantizer and not e.fixed]

    def has_entries(self) -> bool:
        """Whether the quantizer has any judged bug (not fixed) at all."""
        return bool(self._entries)

    def known(self, signature: str) -> Optional[KnownQuantizerBug]:
        """The judged bug a new failure of ``signature`` is, or None."""
        bare = without_variant(signature)
        for entry in self._entries:
            if without_variant(entry.failure) == bare and self._is_live(entry):
                return KnownQuantizerBug(entry.id, entry.case.info.title, entry.case.info.link)
        return None

    def _is_live(self, entry: QuantizerBugEntry) -> bool:
        if entry.id not in self._live:
            live = False
            for _ in range(REPLAYS):
                gc.collect()
                if self._replay(entry.case) == entry.failure:
                    live = True
                    break
            self._live[entry.id] = live
        return self._live[entry.id]
