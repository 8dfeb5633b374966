"""Annotation strategies: what a correct quantizer could emit (valid), and the same with one defect (adversarial).

Valid annotations use every spec kind: ``QSpec`` (int8/uint8/int16 activations, full and restricted ranges,
per-tensor affine/symmetric, rarely dynamic; int8 per-channel or per-tensor weights; int32 biases), ``SharedSpec``
to edges and outputs in chains and trees, ``DerivedSpec`` (conv/linear bias from activation and weight edges, with
the derive functions of ``harness.fx.derive``) and ``FixedSpec`` (sigmoid/softmax outputs). Observers come from the
allow-list of ``harness.fx.ops`` (fake quants for QAT). Some nodes stay unannotated, some edges are left out or mapped
to ``None``, every reference targets an annotated edge or output, and sharing never cycles.

Adversarial annotations inject exactly one of :data:`ADVERSARIAL_KINDS` into valid ones; :data:`ERROR_FOR_KIND`
names the ``prepare_impl`` error a correct prepare raises for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Optional, Sequence

from hypothesis import strategies as st

from harness.case import (
    Case,
    Ctor,
    DerivedSpec,
    EdgeRef,
    FixedSpec,
    Graph,
    Node,
    NodeAnnotation,
    NodeRef,
    QSpec,
    Ref,
    SharedSpec,
    Spec,
    Target,
    TensorMeta,
)
from harness.strategies.shapes import Meta, has_tensor_kwarg, infer_meta, is_float, refs

__all__ = [
    "OBS",
    "FQ",
    "DERIVE_PER_TENSOR",
    "DERIVE_PER_CHANNEL",
    "ADVERSARIAL_KINDS",
    "ERROR_FOR_KIND",
    "annotation_items",
    "annotations",
    "adversarial_annotations",
    "applicable_kinds",
    "later_anchored_shares",
]

_OBS = "torchao.quantization.pt2e.observer."
_FQ = "torchao.quantization.pt2e.fake_quantize."
OBS = {n: Ctor(_OBS + n) for n in (
    "MinMaxObserver", "MovingAverageMinMaxObserver", "HistogramObserver", "PerChannelMinMaxObserver",
    "MovingAveragePerChannelMinMaxObserver", "PlaceholderObserver")}
FQ = {n: Ctor(_FQ + n) for n in ("FakeQuantize", "FusedMovingAvgObsFakeQuantize")}
DERIVE_PER_TENSOR = "harness.derive.bias_qparams_per_tensor"
DERIVE_PER_CHANNEL = "harness.derive.bias_qparams_per_channel"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

# Annotated values produced by these ops lie in [0, 1]: a FixedQParams spec fits them.
_UNIT_RANGE_OPS = ("aten.sigmoid.default", "aten.softmax.int")
_WEIGHTED_OPS = ("aten.conv2d.default", "aten.linear.default")


@dataclass(frozen=True)
class _Item:
    """Something an annotation can attach a spec to: an input edge or a node output, with its role."""

    target: Target
    node: str  # the annotated node
    role: str  # "act", "weight" or "bias"
    meta: TensorMeta


def _edge_role(graph_node: Node, arg: str, by_name: Mapping[str, Node]) -> str:
    if graph_node.target in _WEIGHTED_OPS and by_name[arg].op == "get_attr":
        args = graph_node.args
        if len(args) > 1 and args[1] == Ref(arg):
            return "weight"
        if len(args) > 2 and args[2] == Ref(arg):
            return "bias"
    return "act"


def _items_by_node(graph: Graph, meta: Meta) -> dict[str, list[_Item]]:
    """The annotatable items of each call_function node without tensor kwargs, in annotation order."""
    by_name = {n.name: n for n in graph.nodes}
    out: dict[str, list[_Item]] = {}
    for n in graph.nodes:
        if n.op != "call_function" or has_tensor_kwarg(n):
            continue
        items = []
        seen: set[str] = set()
        for a in refs(n.args):
            if a not in seen and is_float(meta.get(a)):
                seen.add(a)
                items.append(_Item(EdgeRef(a, n.name), n.name, _edge_role(n, a, by_name), meta[a]))  # type: ignore[arg-type]
        if is_float(meta.get(n.name)):
            items.append(_Item(NodeRef(n.name), n.name, "act", meta[n.name]))  # type: ignore[arg-type]
        out[n.name] = items
    return out


def annotation_items(graph: Graph, meta: Optional[Meta] = None) -> list[Target]:
    """Every edge and output a valid annotation of ``graph`` may attach a spec to, in annotation order.

    Edges are the distinct float-tensor positional arguments of a ``call_function`` node (``add(x, x)`` has one
    edge), outputs those of nodes whose value is a float tensor (a ``getitem``, not the ``split`` list).
    Nodes that take a tensor keyword argument are left out (annotating them is an error).
    """
    meta = infer_meta(graph) if meta is None else meta
    return [i.target for items in _items_by_node(graph, meta).values() for i in items]


# ---- spec drawing ------------------------------------------------------------------------------

_ACT_RANGES = (
    ("int8", -128, 127), ("uint8", 0, 255), ("int8", None, None), ("int8", -127, 127), ("uint8", None, None),
    ("int16", -32768, 32767), ("int16", -32767, 32767),
)


@st.composite
def _act_observer(draw, is_qat: bool) -> Ctor:
    if is_qat and draw(st.integers(0, 3)):
        return draw(st.sampled_from([
            Ctor(FQ["FakeQuantize"].qualname, (("observer", OBS["MovingAverageMinMaxObserver"]),)),
            FQ["FusedMovingAvgObsFakeQuantize"],
            Ctor(FQ["FakeQuantize"].qualname, (("observer", OBS["MinMaxObserver"]),)),
        ]))
    ctor = draw(st.sampled_from([OBS["MinMaxObserver"], OBS["HistogramObserver"], OBS["MovingAverageMinMaxObserver"]]))
    if draw(st.booleans()):
        ctor = Ctor(ctor.qualname, (("eps", 2.0**-12),))
    return ctor


@st.composite
def _act_qspec(draw, is_qat: bool) -> QSpec:
    """An activation spec: per-tensor, any of int8/uint8/int16, full or restricted range; rarely dynamic."""
    dtype, lo, hi = draw(st.sampled_from(_ACT_RANGES))
    if not is_qat and draw(st.integers(0, 29)) == 0:
        return QSpec(dtype="int8", observer=OBS["PlaceholderObserver"], quant_min=-128, quant_max=127,
                     qscheme="per_tensor_affine", is_dynamic=True)
    schemes = ["per_tensor_affine"] + (["per_tensor_symmetric"] if dtype != "uint8" else [])
    return QSpec(dtype=dtype, observer=draw(_act_observer(is_qat)), quant_min=lo, quant_max=hi,
                 qscheme=draw(st.sampled_from(schemes)))


# Alternative ranges per dtype (all valid: each includes 0 and stays within the dtype).
_RANGES = {
    "int8": ((-128, 127), (-127, 127), (None, None)),
    "uint8": ((0, 255), (None, None), (0, 127)),
    "int16": ((-32768, 32767), (-32767, 32767)),
}


@st.composite
def _near_miss(draw, base: QSpec, is_qat: bool) -> QSpec:
    """A spec that differs from ``base`` in one thing: its range, its qscheme, its dtype, only its observer (which
    keeps them compatible), or everything. Such pairs are what implicit sharing must tell apart."""
    if base.is_dynamic:
        return draw(_act_qspec(is_qat))
    how = draw(st.sampled_from(["range", "qscheme", "dtype", "range", "qscheme", "observer", "independent"]))
    if how == "range":
        lo, hi = draw(st.sampled_from([r for r in _RANGES[base.dtype] if r != (base.quant_min, base.quant_max)]))
        return replace(base, quant_min=lo, quant_max=hi)
    if how == "qscheme" and base.dtype != "uint8":
        flip = {"per_tensor_affine": "per_tensor_symmetric", "per_tensor_symmetric": "per_tensor_affine"}
        return replace(base, qscheme=flip[base.qscheme])
    if how == "observer":
        return replace(base, observer=draw(_act_observer(is_qat)))
    if how == "dtype":
        dtype = draw(st.sampled_from([d for d in _RANGES if d != base.dtype]))
        lo, hi = _RANGES[dtype][0]
        qscheme = "per_tensor_affine" if dtype == "uint8" else base.qscheme
        return replace(base, dtype=dtype, quant_min=lo, quant_max=hi, qscheme=qscheme)
    return draw(_act_qspec(is_qat))


@st.composite
def _act_palette(draw, is_qat: bool) -> list[QSpec]:
    """1-3 activation specs for one annotation set: a base and near misses of it (so equal, compatible and
    almost-compatible specs meet on the same tensors)."""
    base = draw(_act_qspec(is_qat))
    return [base] + [draw(_near_miss(base, is_qat)) for _ in range(draw(st.integers(1, 2)))]


@st.composite
def _weight_qspec(draw, is_qat: bool, rank: int) -> QSpec:
    """A weight spec: int8 symmetric, per-channel (in-range ``ch_axis``, a PerChannel observer) or per-tensor."""
    lo = draw(st.sampled_from([-127, -128]))
    if draw(st.sampled_from([True, True, False])):  # per-channel, the common choice for weights
        ch = draw(st.integers(0, rank - 1))  # any in-range axis; 0 (the observers' default) is the common one
        if is_qat:
            observer = Ctor(FQ["FakeQuantize"].qualname,
                            (("observer", OBS["MovingAveragePerChannelMinMaxObserver"]), ("ch_axis", ch)))
        else:
            observer = draw(st.sampled_from([OBS["PerChannelMinMaxObserver"],
                                             OBS["MovingAveragePerChannelMinMaxObserver"]]))
        return QSpec(dtype="int8", observer=observer, quant_min=lo, quant_max=127,
                     qscheme="per_channel_symmetric", ch_axis=ch)
    if is_qat:
        observer = Ctor(FQ["FakeQuantize"].qualname, (("observer", OBS["MovingAverageMinMaxObserver"]),))
    else:
        observer = OBS["MinMaxObserver"]
    return QSpec(dtype="int8", observer=observer, quant_min=lo, quant_max=127, qscheme="per_tensor_symmetric")


def _fixed_spec(dtype: str) -> FixedSpec:
    if dtype == "uint8":
        return FixedSpec(dtype="uint8", scale=1.0 / 256.0, zero_point=0, quant_min=0, quant_max=255,
                         qscheme="per_tensor_affine")
    return FixedSpec(dtype="int8", scale=1.0 / 256.0, zero_point=-128, quant_min=-128, quant_max=127,
                     qscheme="per_tensor_affine")


def _bias_derived(act: Target, weight: Target, per_channel: bool) -> DerivedSpec:
    return DerivedSpec(
        derived_from=(act, weight),
        derive_fn=DERIVE_PER_CHANNEL if per_channel else DERIVE_PER_TENSOR,
        dtype="int32",
        quant_min=INT32_MIN,
        quant_max=INT32_MAX,
        qscheme="per_channel_symmetric" if per_channel else "per_tensor_symmetric",
        ch_axis=0 if per_channel else None,
    )


# ---- a mutable annotation set, turned into case data at the end ----------------------------------


@dataclass
class _Ann:
    inputs: dict[str, Optional[Spec]] = field(default_factory=dict)
    output: Optional[Spec] = None
    allow: bool = True


class _AnnSet:
    """Annotations being drawn: node -> inputs (insertion-ordered), output and allow_implicit_sharing."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.anns: dict[str, _Ann] = {}

    def ann(self, node: str, allow: bool = True) -> _Ann:
        if node not in self.anns:
            self.anns[node] = _Ann(allow=allow)
        return self.anns[node]

    def set(self, target: Target, spec: Optional[Spec], allow: bool = True) -> None:
        if isinstance(target, EdgeRef):
            self.ann(target.node, allow).inputs[target.arg] = spec
        else:
            self.ann(target.name, allow).output = spec

    def spec(self, target: Target) -> Optional[Spec]:
        if isinstance(target, EdgeRef):
            a = self.anns.get(target.node)
            return a.inputs.get(target.arg) if a else None
        a = self.anns.get(target.name)
        return a.output if a else None

    def remove(self, target: Target) -> None:
        if isinstance(target, EdgeRef):
            a = self.anns.get(target.node)
            if a:
                a.inputs.pop(target.arg, None)
        elif target.name in self.anns:
            self.anns[target.name].output = None

    def keys(self) -> list[Target]:
        """Targets that carry a (non-None) spec, in annotation order."""
        out: list[Target] = []
        for n in self.graph.nodes:
            a = self.anns.get(n.name)
            if a is None:
                continue
            out.extend(EdgeRef(arg, n.name) for arg, spec in a.inputs.items() if spec is not None)
            if a.output is not None:
                out.append(NodeRef(n.name))
        return out

    def freeze(self) -> tuple[NodeAnnotation, ...]:
        return tuple(
            NodeAnnotation(n.name, tuple(self.anns[n.name].inputs.items()), self.anns[n.name].output,
                           self.anns[n.name].allow)
            for n in self.graph.nodes
            if n.name in self.anns
        )


def _position(keys: Sequence[Target]) -> dict[Target, int]:
    return {k: i for i, k in enumerate(keys)}


@st.composite
def _valid_set(draw, graph: Graph, meta: Meta, allow_implicit_sharing, is_qat: bool, sharing_order: str) -> _AnnSet:
    """Valid annotations (see :func:`annotations`).

    Nodes are annotated or not, fully or partly; then the chosen items get their specs in a processing order
    (annotation order for ``sharing_order="earlier"``, a drawn permutation otherwise; biases last). A shared spec
    only targets an item processed before it whose concrete spec is a per-tensor activation or fixed spec, so
    sharing forms trees without cycles, and a derived bias only follows quantized activation and weight edges.
    """
    items_by_node = _items_by_node(graph, meta)
    anns = _AnnSet(graph)
    chosen: list[_Item] = []
    for node, items in items_by_node.items():
        weighted = graph.node(node).target in _WEIGHTED_OPS
        # quantizers annotate conv/linear (weights, biases) and sigmoid/softmax (fixed qparams) most often
        favoured = weighted or graph.node(node).target in _UNIT_RANGE_OPS
        if not (draw(st.booleans()) or (favoured and draw(st.booleans()))):
            continue  # not annotated
        ann = anns.ann(node, draw(allow_implicit_sharing))
        # every edge and the output, as quantizers mostly do (conv/linear more often); else a random part
        full = draw(st.booleans()) or (weighted and draw(st.booleans()))
        for item in items:
            if full:
                how = "spec"
            else:
                how = draw(st.sampled_from(["skip", "spec", "none"] if isinstance(item.target, EdgeRef)
                                           else ["skip", "spec"]))
            if how == "none":
                ann.inputs[item.target.arg] = None  # type: ignore[union-attr]
            elif how == "spec":
                if isinstance(item.target, EdgeRef):
                    ann.inputs[item.target.arg] = None  # reserve the slot (input order), the spec comes below
                chosen.append(item)
    act_palette = draw(_act_palette(is_qat))
    order = list(chosen) if sharing_order == "earlier" else list(draw(st.permutations(chosen)))
    # bias edges last: a derived bias needs its activation and weight specs decided
    order = [i for i in order if i.role != "bias"] + [i for i in order if i.role == "bias"]
    root: dict[Target, Spec] = {}  # item -> the concrete spec its sharing chain ends at
    shareable: list[_Item] = []
    for item in order:
        spec: Spec
        if item.role == "weight":
            spec = draw(_weight_qspec(is_qat, len(item.meta.shape)))
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
            kind = draw(st.sampled_from(kinds))
            if kind == "shared":
                target = shareable[len(shareable) - 1 - draw(st.integers(0, len(shareable) - 1))]
                spec = SharedSpec(target.target)
                root[item.target] = root[target.target]
            elif kind == "fixed":
                spec = _fixed_spec(draw(st.sampled_from(["uint8", "int8"])))
                root[item.target] = spec
            else:
                spec = act_palette[draw(st.integers(0, len(act_palette) - 1))]
                root[item.target] = spec
            if not getattr(root[item.target], "is_dynamic", False):
                shareable.append(item)
        anns.set(item.target, spec)
    return anns


def _draw_bias(draw, item: _Item, graph: Graph, root: Mapping[Target, Spec]) -> Optional[Spec]:
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
    how = draw(st.sampled_from(options))
    if how == "derived":
        return _bias_derived(act, weight, per_channel=w.qscheme == "per_channel_symmetric")  # type: ignore[union-attr]
    if how == "qspec":
        return QSpec(dtype="int32", observer=OBS["MinMaxObserver"], quant_min=INT32_MIN, quant_max=INT32_MAX,
                     qscheme="per_tensor_symmetric")
    return None


# ---- adversarial injections ----------------------------------------------------------------------

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
    items = [i for its in _items_by_node(graph, meta).values() for i in its]
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


def _inject(draw, kind: str, anns: _AnnSet, graph: Graph, meta: Meta, items: list[_Item], is_qat: bool,
            allow_implicit_sharing) -> None:
    def pick(pool: Sequence, n: int = 1) -> list:
        idx = draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n, unique=True))
        return [pool[i] for i in idx]

    if kind in ("dangling_shared", "dangling_derived"):
        (referrer,) = pick(items)
        outside = [NodeRef(n.name) for n in graph.nodes if n.op in ("placeholder", "get_attr")]
        pool = [i.target for i in items if i.target != referrer.target] + outside
        (target,) = pick(pool)
        anns.remove(target)  # whatever spec it had: it must carry none
        spec: Spec = SharedSpec(target) if kind == "dangling_shared" else _injected_derived((target,))
        anns.set(referrer.target, spec, draw(allow_implicit_sharing))
    elif kind in ("shared_cycle", "self_reference", "derived_cycle"):
        lo = 2 if kind == "shared_cycle" else 1
        hi = 1 if kind == "self_reference" else min(4, len(items))
        ring = pick(items, draw(st.integers(lo, hi)))
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
        ann.inputs[stranger] = draw(_act_qspec(is_qat))
    elif kind == "tensor_kwarg":
        nodes = [n for n in graph.nodes if n.op == "call_function" and has_tensor_kwarg(n)]
        (node,) = pick(nodes)
        ann = anns.ann(node.name, draw(allow_implicit_sharing))
        if is_float(meta.get(node.name)) and draw(st.booleans()):
            ann.output = draw(_act_qspec(is_qat))
        else:
            first = next(refs(node.args))
            ann.inputs[first] = draw(_act_qspec(is_qat))
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
    items = [i for its in _items_by_node(graph, meta).values() for i in its]
    possible = applicable_kinds(graph, kinds, meta)
    if not possible:
        raise ValueError(f"none of the adversarial kinds {kinds} applies to this graph")
    kind = draw(st.sampled_from(possible))
    anns = draw(_valid_set(graph, meta, allow_implicit_sharing, is_qat, "any"))
    _inject(draw, kind, anns, graph, meta, items, is_qat, allow_implicit_sharing)
    return anns.freeze(), kind


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
    referrer (torchao's prepare asserts otherwise, pytorch/ao#4421); ``"any"`` also draws later targets.

    ``mode="adversarial"``: valid annotations with one injected defect (:func:`adversarial_annotations` also
    returns which one).

    ``meta`` gives node values (name -> ``TensorMeta`` / tuple / None) for graphs :func:`infer_meta` cannot
    follow, e.g. ones extracted from ``torch.export``.
    """
    if sharing_order not in ("any", "earlier"):
        raise ValueError(f"sharing_order must be 'any' or 'earlier', got {sharing_order!r}")
    meta = infer_meta(graph) if meta is None else meta
    if mode == "valid":
        return _valid_set(graph, meta, allow_implicit_sharing, is_qat, sharing_order).map(lambda a: a.freeze())
    if mode == "adversarial":
        return adversarial_annotations(graph, None, allow_implicit_sharing, is_qat, meta).map(lambda t: t[0])
    raise ValueError(f"mode must be 'valid' or 'adversarial', got {mode!r}")


def later_anchored_shares(case: Case) -> list[tuple[Target, Target]]:
    """``(referrer, target)`` of every ``SharedSpec`` whose target comes later in annotation order.

    Such sharing is valid, but torchao's prepare builds each group's observer from its first member in annotation
    order and asserts when that member is a ``SharedSpec`` whose target has no observer yet (pytorch/ao#4421).
    """
    anns = _AnnSet(case.graph)
    for a in case.annotations:
        anns.anns[a.node] = _Ann(dict(a.inputs), a.output, a.allow_implicit_sharing)
    keys = anns.keys()
    pos = _position(keys)
    out = []
    for k in keys:
        spec = anns.spec(k)
        if isinstance(spec, SharedSpec) and pos.get(spec.target, -1) > pos[k]:
            out.append((k, spec.target))
    return out
