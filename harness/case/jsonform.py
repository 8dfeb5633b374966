"""The identity of the case JSON format: its version string :data:`FORMAT` and its error, :class:`CaseFormatError`.

Both directions of the codec (``harness.case.encode``, ``harness.case.decode``) and the corpus files
(``harness.case.files``) report a malformed case with this one error, whose message names the source (file) and
the field path: ``"<source>: <field path>: <problem>"``, e.g. ``corpus/x.json: graph.nodes[3].args[0]: unknown
node 'foo'``. A document of this format is plain (``harness.case.encode``) or compact, marked by a top-level
``"encoding": "runs/1"`` (``harness.case.compact_decode``); both carry :data:`FORMAT`.
"""

from __future__ import annotations

__all__ = ["FORMAT", "CaseFormatError", "DuplicateKey"]

FORMAT = "pt2e-case/1"


class CaseFormatError(ValueError):
    """A malformed case; the message names the source (file) and the field path."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        self.source = source
        self.path = path
        self.problem = problem
        super().__init__(f"{source}: {path}: {problem}" if path else f"{source}: {problem}")


class DuplicateKey(ValueError):
    """An object of a case document names the same key twice (read back, or made from a compact template); the
    reader turns it into a :class:`CaseFormatError` saying where."""
