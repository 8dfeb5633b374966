"""The subject of one test of the suite, as data: a :class:`Subject` of one kind (its check's scope) and a name.

The rule: a subject is built as ``Subject(kind, name)`` and read through its fields and properties, never parsed
from a string; :attr:`Subject.key` is its one string form (unique per subject, e.g. the xdist group of its tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Scope", "SCOPES", "Subject", "QUANTIZER"]

Scope = Literal["model", "random", "saved", "quantizer"]
# the kinds of subject, in the order the suite lists its tests; a check runs on the subjects of one kind (its scope)
SCOPES: tuple[Scope, ...] = ("model", "random", "saved", "quantizer")


@dataclass(frozen=True)
class Subject:
    """What one test checks. ``kind``: ``model`` (``name``: a model of :mod:`harness.suite.subjects.models`),
    ``random`` (``name``: the index of a chunk of random graphs), ``saved`` (``name``: the path of a saved case),
    ``quantizer`` (the quantizer over all the models; no name)."""

    kind: Scope
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SCOPES:
            raise ValueError(f"unknown kind of subject {self.kind!r}; known: {', '.join(SCOPES)}")

    @property
    def key(self) -> str:
        """``model:mlp``, ``random:0``, ``saved:<path>``, ``quantizer``."""
        return f"{self.kind}:{self.name}" if self.name else self.kind

    @property
    def label(self) -> str:
        """What a test id shows in brackets: the model, the chunk, the saved file's stem ("" for the quantizer)."""
        return Path(self.name).stem if self.kind == "saved" else self.name

    @property
    def chunk(self) -> int:
        """The chunk index of a ``random`` subject (``ValueError`` for another kind)."""
        if self.kind != "random":
            raise ValueError(f"{self.key} is not a chunk of random graphs")
        return int(self.name)

    @property
    def text(self) -> str:
        """In words: ``model 'mlp'``, ``random graphs (chunk 0)``, ``saved graph <file name>``, ``models``."""
        if self.kind == "model":
            return f"model {self.name!r}"
        if self.kind == "random":
            return f"random graphs (chunk {self.name})"
        if self.kind == "saved":
            return f"saved graph {Path(self.name).name}"
        return "models"


QUANTIZER = Subject("quantizer")  # the one subject of a check on the quantizer as a whole (coverage)
