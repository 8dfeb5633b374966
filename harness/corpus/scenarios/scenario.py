"""What a scenario is: a case (without ``expected``) plus what its author expects of a correct prepare.

The two constructors fill in the case's ``info`` for the two generated corpus directories, ``DIRECTORIES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from harness import case as C
from harness.corpus.scenarios.builders import AO_TESTS

DIRECTORIES = ("conformance", "upstream_bugs")


@dataclass(frozen=True)
class Scenario:
    """A case and what its author expects of a correct prepare (checked against the reference).

    ``groups``: the exact partition of the observed keys (``"edge:a->n"``, ``"out:n"``) into observer instances,
    or ``None`` when ``check`` says it instead (large cases). ``unobserved``: annotated keys a correct prepare
    leaves unobserved. ``observers``: for some keys, fields their observer's canonical configuration must have.
    ``error``: the name of the reference's typed error (then nothing else is checked). ``check``: an extra check
    of the canonical JSON data, returning a problem or ``None``.
    """

    directory: str
    case: C.Case
    groups: Optional[tuple[frozenset[str], ...]] = None
    unobserved: frozenset[str] = frozenset()
    observers: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = ()
    error: Optional[str] = None
    check: Optional[Callable[[dict], Optional[str]]] = field(default=None, compare=False)

    @property
    def title(self) -> str:
        return self.case.info.title


def partition(*groups: Sequence[str]) -> tuple[frozenset[str], ...]:
    """The ``groups`` of a scenario: each argument lists the keys of one observer instance."""
    return tuple(frozenset(g) for g in groups)


def observer_fields(*items: tuple[str, dict]) -> tuple[tuple[str, tuple[tuple[str, object], ...]], ...]:
    """The ``observers`` of a scenario from ``(key, {field: value})`` pairs."""
    return tuple((key, tuple(sorted(fields.items()))) for key, fields in items)


def conformance_scenario(title: str, notes: str, graph: Sequence[C.Node],
                         annotations: Sequence[C.NodeAnnotation], *, is_qat: bool = False, link: str = AO_TESTS,
                         tags: tuple[str, ...] = (), upstream: str = "", **expect) -> Scenario:
    """A scenario of ``corpus/conformance`` (``expect``: the :class:`Scenario` fields after ``case``)."""
    info = C.Info(title=title, kind="conformance", link=link, notes=notes, upstream=upstream, tags=tags)
    case = C.Case(C.Graph(tuple(graph)), tuple(annotations), is_qat, None, info)
    return Scenario("conformance", case, **expect)


def upstream_bug_scenario(title: str, link: str, notes: str, upstream: str, graph: Sequence[C.Node],
                          annotations: Sequence[C.NodeAnnotation], *, is_qat: bool = False,
                          tags: tuple[str, ...] = (), **expect) -> Scenario:
    """A scenario of ``corpus/upstream_bugs``; ``upstream`` is ``crashes``, ``wrong`` or ``fixed``."""
    info = C.Info(title=title, kind="upstream_bug", link=link, notes=notes, upstream=upstream, tags=tags)
    case = C.Case(C.Graph(tuple(graph)), tuple(annotations), is_qat, None, info)
    return Scenario("upstream_bugs", case, **expect)

