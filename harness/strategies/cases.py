"""Whole cases: a generated graph with valid or adversarial annotations.

Where the graph comes from is a :class:`GraphSource`: by default a random graph (:func:`graphs`) as drawn; the
exported cases of :mod:`harness.strategies.exported` pass one that writes it as a module program and exports it.
One strategy, :func:`cases`, annotates either."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence, Union

from hypothesis import strategies as st

from harness.case import Case, Expected, Graph, Info
from harness.strategies.adversarial import ADVERSARIAL_KINDS, ERROR_FOR_KIND, adversarial_annotations, applicable_kinds
from harness.strategies.annotations import annotations
from harness.strategies.graphs import graphs
from harness.strategies.op_table import IR_OPS, infer_meta
from harness.strategies.reuse import BOOLS
from harness.strategies.shapes import Meta
from harness.strategies.fast import assume

__all__ = ["cases", "adversarial_cases", "as_strategy", "with_defect", "GraphSource"]


@dataclass(frozen=True)
class GraphSource:
    """Where a case's graph comes from: ``draw(draw, min_nodes, max_nodes, ops)`` gives the graph and its values
    (``Meta``); ``title`` and ``tags`` name the cases (``info``)."""

    draw: Callable[..., tuple[Graph, Meta]]
    title: str
    tags: tuple[str, ...]


def as_strategy(x) -> st.SearchStrategy:
    """``x`` if it is a strategy, else ``st.just(x)`` (so parameters accept a value or a strategy)."""
    return x if isinstance(x, st.SearchStrategy) else st.just(x)


@st.composite
def cases(
    draw,
    mode: str = "valid",
    is_qat: Union[bool, st.SearchStrategy[bool]] = st.booleans(),
    min_nodes: int = 1,
    max_nodes: int = 12,
    ops: Optional[Iterable[str]] = None,
    allow_implicit_sharing: st.SearchStrategy[bool] = st.booleans(),
    sharing_order: str = "any",
    source: Optional[GraphSource] = None,
) -> Case:
    """A graph from :func:`graphs` (or from ``source``) with annotations from :func:`annotations` (``mode`` valid or
    adversarial).

    Adversarial cases carry ``expected=Expected(error=...)`` and their kind in ``info.tags``.
    """
    if mode == "adversarial" and source is None:
        return draw(adversarial_cases(None, is_qat, min_nodes, max_nodes, ops, allow_implicit_sharing))[0]
    qat = draw(as_strategy(is_qat))
    if source is None:
        graph = draw(graphs(min_nodes, max_nodes, IR_OPS if ops is None else ops))
        meta, title, tags = None, "generated", ("generated", mode)
    else:
        graph, meta = source.draw(draw, min_nodes, max_nodes, ops)
        title, tags = source.title, source.tags + (mode,)
    if mode == "adversarial":
        return with_defect(draw, graph, ADVERSARIAL_KINDS, allow_implicit_sharing, qat, meta, title, tags)[0]
    anns = draw(annotations(graph, mode, allow_implicit_sharing, qat, sharing_order, meta))
    return Case(graph, anns, is_qat=qat, info=Info(title=title, kind="scenario", tags=tags))


@st.composite
def adversarial_cases(
    draw,
    kinds: Optional[Sequence[str]] = None,
    is_qat: Union[bool, st.SearchStrategy[bool]] = st.booleans(),
    min_nodes: int = 1,
    max_nodes: int = 12,
    ops: Optional[Iterable[str]] = None,
    allow_implicit_sharing: st.SearchStrategy[bool] = st.booleans(),
) -> tuple[Case, str]:
    """``(case, kind)``: a generated case with exactly one injected defect of ``kind`` (one of ``kinds``, default
    all of :data:`ADVERSARIAL_KINDS`); ``case.expected.error`` is the error a correct prepare raises for it and
    ``case.info.tags`` ends with ``kind``."""
    kinds = tuple(ADVERSARIAL_KINDS if kinds is None else kinds)
    unknown = set(kinds) - set(ADVERSARIAL_KINDS)
    if unknown or not kinds:
        raise ValueError(f"unknown adversarial kinds {sorted(unknown)}; known: {ADVERSARIAL_KINDS}")
    qat = draw(as_strategy(is_qat))
    want_kwargs = "tensor_kwarg" in kinds and (len(kinds) == 1 or draw(BOOLS))
    graph = draw(graphs(min_nodes, max_nodes, IR_OPS if ops is None else ops, tensor_kwargs=want_kwargs))
    return with_defect(draw, graph, kinds, allow_implicit_sharing, qat, infer_meta(graph),
                       title="adversarial: {kind}", tags=("generated", "adversarial"))


def with_defect(draw, graph: Graph, kinds: Sequence[str], allow_implicit_sharing: st.SearchStrategy[bool],
                qat: bool, meta: Meta, title: str, tags: tuple[str, ...]) -> tuple[Case, str]:
    """``(case, kind)``: ``graph`` (its values ``meta``) with annotations holding exactly one injected defect, of
    one of ``kinds`` that applies to it (an example where none does is rejected); ``case.expected.error`` is the
    error a correct prepare raises for it, ``case.info`` has ``title`` (``{kind}`` in it stands for the kind) and
    ``tags``, then the kind. Called by a composite strategy with its ``draw``."""
    possible = applicable_kinds(graph, kinds, meta)
    assume(bool(possible))
    anns, kind = draw(adversarial_annotations(graph, possible, allow_implicit_sharing, qat, meta))
    info = Info(title=title.format(kind=kind), kind="scenario", tags=(*tags, kind))
    return Case(graph, anns, is_qat=qat, expected=Expected(error=ERROR_FOR_KIND[kind]), info=info), kind
