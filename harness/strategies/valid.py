"""Valid annotations: what a correct quantizer could emit for a graph (drawn as a mutable annotation set).

The rule: some nodes stay unannotated, some edges are left out or mapped to ``None`` (the output of a
multi-output node, the graph's output node's inputs, placeholders and attributes are annotated like any other); a shared spec only targets
an item processed before it whose concrete spec is a (non-dynamic) activation or fixed spec, so sharing forms
trees without cycles and every reference targets an annotated edge or output; a derived bias only follows
quantized activation and weight edges.
"""

from __future__ import annotations

from typing import Mapping, Optional

from hypothesis import strategies as st

from harness.case import EdgeRef, FixedSpec, Graph, NodeRef, QSpec, SharedSpec, Spec, Target
from harness.strategies.annotation_set import WEIGHTED_OPS, AnnSet, Item, items_by_node
from harness.strategies.qspecs import (
    INT32_MAX,
    INT32_MIN,
    OBS,
    act_palette,
    bias_derived,
    fixed_spec,
    weight_qspec,
)
from harness.strategies.shapes import Meta
from harness.strategies.reuse import BOOLS, ONE_IN_FOUR, ints, sampled

__all__ = ["valid_set"]

# Annotated values produced by these ops lie in [0, 1]: a FixedQParams spec fits them.
_UNIT_RANGE_OPS = ("aten.sigmoid.default", "aten.softmax.int")


@st.composite
def valid_set(draw, graph: Graph, meta: Meta, allow_implicit_sharing, is_qat: bool, sharing_order: str) -> AnnSet:
    """Valid annotations (see :func:`annotations`).

    Nodes are annotated or not, fully or partly; then the chosen items get their specs in a processing order
    (annotation order; with ``sharing_order="any"``, one time in four, a drawn permutation; biases last). A shared spec
    only targets an item processed before it whose concrete spec is a per-tensor activation or fixed spec, so
    sharing forms trees without cycles, and a derived bias only follows quantized activation and weight edges.
    """
    by_node = items_by_node(graph, meta)
    anns = AnnSet(graph)
    chosen: list[Item] = []
    for node, items in by_node.items():
        weighted = graph.node(node).target in WEIGHTED_OPS
        # quantizers annotate conv/linear (weights, biases) and sigmoid/softmax (fixed qparams) most often, the
        # graph's output node, its inputs and attributes rarely
        favoured = weighted or graph.node(node).target in _UNIT_RANGE_OPS
        if not (draw(BOOLS) or (favoured and draw(BOOLS))):
            continue  # not annotated
        if graph.node(node).op in ("output", "placeholder", "get_attr") and draw(BOOLS):
            continue
        ann = anns.ann(node, draw(allow_implicit_sharing))
        # every edge and the output, as quantizers mostly do (conv/linear more often); else a random part
        full = draw(BOOLS) or (weighted and draw(BOOLS))
        for item in items:
            if full:
                how = "spec"
            else:
                how = draw(sampled(["skip", "spec", "none"] if isinstance(item.target, EdgeRef)
                                           else ["skip", "spec"]))
            if how == "none":
                ann.inputs[item.target.arg] = None  # type: ignore[union-attr]
            elif how == "spec":
                if isinstance(item.target, EdgeRef):
                    ann.inputs[item.target.arg] = None  # reserve the slot (input order), the spec comes below
                chosen.append(item)
    palette = draw(act_palette(is_qat))
    order = list(draw(st.permutations(chosen))) if _permuted(draw, sharing_order) else list(chosen)
    # bias edges last: a derived bias needs its activation and weight specs decided
    order = [i for i in order if i.role != "bias"] + [i for i in order if i.role == "bias"]
    root: dict[Target, Spec] = {}  # item -> the concrete spec its sharing chain ends at
    shareable: list[Item] = []
    for item in order:
        spec: Spec
        if item.role == "weight":
            spec = draw(weight_qspec(is_qat, len(item.meta.shape)))
            root[item.target] = spec
        elif item.role == "bias":
            spec = _draw_bias(draw, item, graph, root)
            if spec is None:
                anns.set(item.target, None)
                continue
            root[item.target] = spec
        else:
            kinds = ["qspec"]
            if shareable:
                kinds.append("shared")
            # the value of a sigmoid/softmax (its output, or its consumers' input edges) lies in [0, 1]
            producer = item.target.name if isinstance(item.target, NodeRef) else item.target.arg
            if graph.node(producer).target in _UNIT_RANGE_OPS:
                kinds += ["fixed", "fixed", "fixed"]  # what quantizers do for sigmoid/softmax outputs
            kind = draw(sampled(kinds))
            if kind == "shared":
                target = shareable[len(shareable) - 1 - draw(ints(0, len(shareable) - 1))]
                spec = SharedSpec(target.target)
                root[item.target] = root[target.target]
            elif kind == "fixed":
                spec = fixed_spec(draw(sampled(["uint8", "int8"])))
                root[item.target] = spec
            else:
                spec = palette[draw(ints(0, len(palette) - 1))]
                root[item.target] = spec
            if not getattr(root[item.target], "is_dynamic", False):
                shareable.append(item)
        anns.set(item.target, spec)
    return anns


def _permuted(draw, sharing_order: str) -> bool:
    """Whether the specs are given in a drawn order rather than annotation order (the rule: with ``"any"``, one time
    in four; shrinking goes to annotation order). Real quantizers annotate in graph order and share with what they
    annotated before (cat's inputs with its first input, an output with its input edge), so that is the common
    case; a drawn order also anchors shares later in graph order, valid sharing that torchao's prepare rejects
    (pytorch/ao#4421). Drawn every time, that known bug stopped torchao-like candidates early on about half the
    valid cases, and hid whatever else such a case would have shown."""
    return sharing_order == "any" and draw(ONE_IN_FOUR) == 3


def _draw_bias(draw, item: Item, graph: Graph, root: Mapping[Target, Spec]) -> Optional[Spec]:
    """A conv/linear bias spec: derived from the activation and weight edges when both are quantized, else an
    int32 per-tensor spec, or None."""
    node = graph.node(item.node)
    act = EdgeRef(node.args[0].name, node.name)
    weight = EdgeRef(node.args[1].name, node.name)
    a, w = root.get(act), root.get(weight)
    options = ["qspec", "none"]
    derivable = (isinstance(a, (QSpec, FixedSpec)) and not a.is_dynamic and isinstance(w, QSpec)
                 and (w.qscheme == "per_tensor_symmetric" or w.ch_axis == 0))
    if derivable:
        options[:0] = ["derived", "derived"]  # what quantizers do for a bias
    how = draw(sampled(options))
    if how == "derived":
        return bias_derived(act, weight, per_channel=w.qscheme == "per_channel_symmetric")  # type: ignore[union-attr]
    if how == "qspec":
        return QSpec(dtype="int32", observer=OBS["MinMaxObserver"], quant_min=INT32_MIN, quant_max=INT32_MAX,
                     qscheme="per_tensor_symmetric")
    return None
