"""The annotation strategy: quantization annotations of a given graph, valid or adversarial.

``harness.strategies.valid`` draws what a correct quantizer could emit (every spec kind: ``QSpec``, ``SharedSpec``
in chains and trees, ``DerivedSpec`` biases, ``FixedSpec`` sigmoid/softmax outputs, from
``harness.strategies.qspecs``); ``harness.strategies.adversarial`` injects exactly one defect into such
annotations. This module is the entry point choosing between them, plus :func:`later_anchored_shares`, the valid
sharing torchao's prepare mishandles (pytorch/ao#4421).
"""

from __future__ import annotations

from typing import Optional, Sequence

from hypothesis import strategies as st

from harness.case import Case, Graph, NodeAnnotation, SharedSpec, Target
from harness.strategies.adversarial import adversarial_annotations
from harness.strategies.annotation_set import Ann, AnnSet
from harness.strategies.op_table import infer_meta
from harness.strategies.shapes import Meta
from harness.strategies.valid import valid_set

__all__ = ["annotations", "later_anchored_shares"]


def annotations(
    graph: Graph,
    mode: str = "valid",
    allow_implicit_sharing: st.SearchStrategy[bool] = st.booleans(),
    is_qat: bool = False,
    sharing_order: str = "any",
    meta: Optional[Meta] = None,
) -> st.SearchStrategy[tuple[NodeAnnotation, ...]]:
    """Quantization annotations of ``graph``.

    ``mode="valid"``: what a correct quantizer could emit. Every spec kind appears: ``QSpec`` (int8, uint8, int16
    activations, full and restricted ranges, per-tensor affine/symmetric, rarely dynamic; int8 per-channel or
    per-tensor weights; int32 biases), ``SharedSpec`` to edges and outputs in chains and trees,
    ``DerivedSpec`` (conv/linear bias from the activation and weight edges) and ``FixedSpec`` (sigmoid and softmax
    outputs). Some nodes stay unannotated, some edges are left out or mapped to ``None``. Every reference targets
    an annotated edge or output and sharing has no cycle. Observers are fake quants when ``is_qat``.
    ``sharing_order="earlier"`` makes every ``SharedSpec`` target come earlier in annotation order than its
    referrer (torchao's prepare asserts otherwise, pytorch/ao#4421); ``"any"`` also draws later targets: one time in
    four it gives the specs in a drawn order, not annotation order (``harness.strategies.valid``).

    ``mode="adversarial"``: valid annotations with one injected defect (:func:`adversarial_annotations` also
    returns which one).

    ``meta`` gives node values (name -> ``TensorMeta`` / tuple / None) for graphs :func:`infer_meta` cannot
    follow, e.g. ones extracted from ``torch.export``.
    """
    if sharing_order not in ("any", "earlier"):
        raise ValueError(f"sharing_order must be 'any' or 'earlier', got {sharing_order!r}")
    meta = infer_meta(graph) if meta is None else meta
    if mode == "valid":
        return valid_set(graph, meta, allow_implicit_sharing, is_qat, sharing_order).map(lambda a: a.freeze())
    if mode == "adversarial":
        return adversarial_annotations(graph, None, allow_implicit_sharing, is_qat, meta).map(lambda t: t[0])
    raise ValueError(f"mode must be 'valid' or 'adversarial', got {mode!r}")


def later_anchored_shares(case: Case) -> list[tuple[Target, Target]]:
    """``(referrer, target)`` of every ``SharedSpec`` whose target comes later in annotation order.

    Such sharing is valid, but torchao's prepare builds each group's observer from its first member in annotation
    order and asserts when that member is a ``SharedSpec`` whose target has no observer yet (pytorch/ao#4421).
    """
    anns = AnnSet(case.graph)
    for a in case.annotations:
        anns.anns[a.node] = Ann(dict(a.inputs), a.output, a.allow_implicit_sharing)
    keys = anns.keys()
    pos = _position(keys)
    out = []
    for k in keys:
        spec = anns.spec(k)
        if isinstance(spec, SharedSpec) and pos.get(spec.target, -1) > pos[k]:
            out.append((k, spec.target))
    return out


def _position(keys: Sequence[Target]) -> dict[Target, int]:
    return {k: i for i, k in enumerate(keys)}
