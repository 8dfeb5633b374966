"""Adversarial annotations: valid ones with exactly one injected defect, and the error a correct prepare raises.

The rule: each of :data:`ADVERSARIAL_KINDS` is one defect (a reference to an unannotated target, a sharing or
derivation cycle, a key that is not an input, an annotated node with a tensor kwarg); :data:`ERROR_FOR_KIND`
names the ``prepare_impl`` error for it; a kind is only injected where the graph allows it
(:func:`applicable_kinds`).
"""

from __future__ import annotations

from typing import Optional, Sequence

from hypothesis import strategies as st

from harness.case import DerivedSpec, Graph, NodeAnnotation, NodeRef, SharedSpec, Spec, Target
from harness.case.walks import has_tensor_kwarg, refs
from harness.strategies.annotation_set import AnnSet, Item, items_by_node
from harness.strategies.qspecs import DERIVE_PER_TENSOR, INT32_MAX, INT32_MIN, act_qspec
from harness.strategies.op_table import infer_meta
from harness.strategies.shapes import Meta, is_float
from harness.strategies.valid import valid_set
from harness.strategies.reuse import BOOLS, ints, sampled
from harness.strategies.fast import assume

__all__ = ["ADVERSARIAL_KINDS", "ERROR_FOR_KIND", "applicable_kinds", "adversarial_annotations"]

ADVERSARIAL_KINDS: tuple[str, ...] = (
    "dangling_shared",
    "dangling_derived",
    "shared_cycle",
    "self_reference",
    "derived_cycle",
    "not_an_input",
    "tensor_kwarg",
)

# The prepare_impl error class a correct prepare raises for a case with exactly this one defect.
ERROR_FOR_KIND: dict[str, str] = {
    "dangling_shared": "DanglingReferenceError",
    "dangling_derived": "DanglingReferenceError",
    "shared_cycle": "CyclicSharingError",
    "self_reference": "CyclicSharingError",
    "derived_cycle": "DerivedCycleError",
    "not_an_input": "NotAnInputError",
    "tensor_kwarg": "TensorKwargError",
}

# A quant range no valid spec uses, so an injected derived spec never shares implicitly with another key
# (it must stay the concrete spec of its own group for its defect to matter).
_DISTINCT_LO = INT32_MIN + 1


def _injected_derived(sources: tuple[Target, ...]) -> DerivedSpec:
    return DerivedSpec(derived_from=sources, derive_fn=DERIVE_PER_TENSOR, dtype="int32", quant_min=_DISTINCT_LO,
                       quant_max=INT32_MAX, qscheme="per_tensor_symmetric")


def applicable_kinds(graph: Graph, kinds: Sequence[str] = ADVERSARIAL_KINDS, meta: Optional[Meta] = None) -> list[str]:
    """The adversarial kinds (among ``kinds``) that can be injected into annotations of ``graph``."""
    meta = infer_meta(graph) if meta is None else meta
    items = [i for its in items_by_node(graph, meta).values() for i in its]
    out = []
    for k in kinds:
        if k == "tensor_kwarg":
            if any(has_tensor_kwarg(n) for n in graph.nodes if n.op == "call_function"):
                out.append(k)
        elif k == "shared_cycle":
            if len(items) >= 2:
                out.append(k)
        elif k == "not_an_input":
            if any(n.op == "call_function" and not has_tensor_kwarg(n) for n in graph.nodes):
                out.append(k)
        elif items:
            out.append(k)
    return out


def _inject(draw, kind: str, anns: AnnSet, graph: Graph, meta: Meta, items: list[Item], is_qat: bool,
            allow_implicit_sharing) -> None:
    def pick(pool: Sequence, n: int = 1) -> list:
        assume(len(pool) >= n)  # e.g. no stranger left: a node using every other node (rare; seen by the fast source)
        idx = draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n, unique=True))
        return [pool[i] for i in idx]

    if kind in ("dangling_shared", "dangling_derived"):
        (referrer,) = pick(items)
        outside = [NodeRef(n.name) for n in graph.nodes if n.op in ("placeholder", "get_attr")]
        pool = [t for t in [i.target for i in items] + outside if t != referrer.target]
        (target,) = pick(pool)
        anns.remove(target)  # whatever spec it had: it must carry none
        spec: Spec = SharedSpec(target) if kind == "dangling_shared" else _injected_derived((target,))
        anns.set(referrer.target, spec, draw(allow_implicit_sharing))
    elif kind in ("shared_cycle", "self_reference", "derived_cycle"):
        lo = 2 if kind == "shared_cycle" else 1
        hi = 1 if kind == "self_reference" else min(4, len(items))
        ring = pick(items, draw(ints(lo, hi)))
        for i, item in enumerate(ring):
            nxt = ring[(i + 1) % len(ring)].target
            spec = _injected_derived((nxt,)) if kind == "derived_cycle" else SharedSpec(nxt)
            anns.set(item.target, spec, draw(allow_implicit_sharing))
    elif kind == "not_an_input":
        nodes = [n for n in graph.nodes if n.op == "call_function" and not has_tensor_kwarg(n)]
        (node,) = pick(nodes)
        inputs = set(refs((node.args, node.kwargs)))
        strangers = [n.name for n in graph.nodes if n.op != "output" and n.name not in inputs]
        (stranger,) = pick(strangers)
        ann = anns.ann(node.name, draw(allow_implicit_sharing))
        ann.inputs.pop(stranger, None)
        # a None spec is still a key that is not an input (drawn second, so it shrinks to a spec)
        ann.inputs[stranger] = None if draw(ints(0, 3)) == 0 else draw(act_qspec(is_qat))
    elif kind == "tensor_kwarg":
        nodes = [n for n in graph.nodes if n.op == "call_function" and has_tensor_kwarg(n)]
        (node,) = pick(nodes)
        ann = anns.ann(node.name, draw(allow_implicit_sharing))
        if is_float(meta.get(node.name)) and draw(BOOLS):
            ann.output = draw(act_qspec(is_qat))
        else:
            first = next(refs((node.args, node.kwargs)))  # cat(tensors=[...]) has no positional tensor
            ann.inputs[first] = draw(act_qspec(is_qat))
    else:
        raise ValueError(f"unknown adversarial kind {kind!r}; known: {ADVERSARIAL_KINDS}")


@st.composite
def adversarial_annotations(
    draw,
    graph: Graph,
    kinds: Optional[Sequence[str]] = None,
    allow_implicit_sharing: st.SearchStrategy[bool] = st.booleans(),
    is_qat: bool = False,
    meta: Optional[Meta] = None,
) -> tuple[tuple[NodeAnnotation, ...], str]:
    """Valid annotations of ``graph`` with exactly one defect injected: ``(annotations, kind)``.

    ``kind`` is one of :data:`ADVERSARIAL_KINDS` (restricted to ``kinds``, and to what ``graph`` allows:
    ``"tensor_kwarg"`` needs a node with a tensor kwarg, see ``graphs(tensor_kwargs=True)``);
    :data:`ERROR_FOR_KIND` names the error a correct prepare raises for it.
    """
    meta = infer_meta(graph) if meta is None else meta
    kinds = tuple(ADVERSARIAL_KINDS if kinds is None else kinds)
    items = [i for its in items_by_node(graph, meta).values() for i in its]
    possible = applicable_kinds(graph, kinds, meta)
    if not possible:
        raise ValueError(f"none of the adversarial kinds {kinds} applies to this graph")
    kind = draw(sampled(possible))
    anns = draw(valid_set(graph, meta, allow_implicit_sharing, is_qat, "any"))
    _inject(draw, kind, anns, graph, meta, items, is_qat, allow_implicit_sharing)
    return anns.freeze(), kind
