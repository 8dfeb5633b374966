"""The data every invariant checker shares: what it looks at (:class:`CheckContext`), the expected sharing
(:class:`ExpectedGroup`) and what it reports (:class:`Violation`).

Rule: a checker reads ``ctx.original`` (the annotated model, never mutated) and ``ctx.prepared`` (run only on deep
copies), and returns one :class:`Violation` per problem; knowledge the context lacks (``None``) means the checkers
that need it return ``[]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from torch.fx import GraphModule

from harness.check.observer_map import ObserverMap, locate_observers

__all__ = ["CheckContext", "ExpectedGroup", "Violation"]


@dataclass(frozen=True)
class Violation:
    """One broken property: the checker's name, a plain-words message, optional structured details."""

    check: str
    message: str
    details: Optional[dict] = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


@dataclass(frozen=True)
class ExpectedGroup:
    """A group of keys (``"edge:a->n"`` / ``"out:n"``) that must share one observer, and the group's spec.

    ``spec`` is the concrete torchao spec object the group's observer is built from (a
    ``QuantizationSpec``, ``FixedQParamsQuantizationSpec`` or ``DerivedQuantizationSpec``), or ``None``
    when unknown.
    """

    keys: frozenset
    spec: Any = None


@dataclass
class CheckContext:
    """What the checkers look at. ``original`` is the annotated model prepare was given (unmutated).
    ``observer_map``: where the observers of ``prepared`` sit, when the caller located them already (the
    differential check does, for the canonical form; :func:`harness.check.invariants.check_all` does once for all
    its checkers): checkers never change the models, so it stays true while they run."""

    original: GraphModule
    prepared: GraphModule
    is_qat: bool = False
    expected_groups: Optional[Sequence[ExpectedGroup]] = None
    example_inputs: Optional[tuple] = None
    observer_map: Optional[ObserverMap] = None

    def observers(self) -> ObserverMap:
        """:func:`harness.check.observer_map.locate_observers` for this context: ``observer_map`` when given, else
        located now (a test that edits ``prepared`` between two checkers sees its edit)."""
        if self.observer_map is not None:
            return self.observer_map
        return locate_observers(self.original, self.prepared)

    def group_index(self) -> dict[str, int]:
        """Key -> index of its expected group (empty without expected groups)."""
        if self.expected_groups is None:
            return {}
        return {k: i for i, g in enumerate(self.expected_groups) for k in g.keys}
