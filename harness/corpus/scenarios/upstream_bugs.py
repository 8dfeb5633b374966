"""The upstream-bug scenarios: one case per public report (or fuzz finding) of torchao's prepare misbehaving.

Each case's ``info.upstream`` says whether torchao 0.18 still ``crashes``, gives a ``wrong`` result, or has
``fixed`` it; the notes say what torchao does and what the reference does instead.
"""

from __future__ import annotations

from typing import Optional

from harness import case as C
from harness.corpus.scenarios.builders import (ACT, ACT_QAT, AO, AO_PREPARE, OBS, R, WEIGHT_QAT_PC_AXIS1, ann, attr,
                                               call, conv_annotation, conv_inputs_apart, conv_nodes, derived_bias, out,
                                               ph, shared_edge, shared_out)
from harness.corpus.scenarios.scenario import Scenario, observer_fields, partition, upstream_bug_scenario

DEEP_CHAIN_LENGTH = 2000


def _relu_chain(length: int) -> tuple[C.Node, ...]:
    names = [f"relu_{i}" for i in range(length)]
    nodes = [ph("x", (2, 3))]
    prev = "x"
    for name in names:
        nodes.append(call(name, "aten.relu.default", R(prev)))
        prev = name
    nodes.append(out(prev))
    return tuple(nodes)


def _check_deep_chain(canonical: dict) -> Optional[str]:
    groups = canonical.get("groups") or []
    want = {f"out:relu_{i}" for i in range(DEEP_CHAIN_LENGTH)}
    if len(groups) != 1 or set(groups[0]["keys"]) != want:
        return f"expected one group of the {DEEP_CHAIN_LENGTH} relu outputs, got {len(groups)} groups"
    if canonical["structure"]["observer_nodes"] != DEEP_CHAIN_LENGTH:
        return f"expected one observer node per relu, got {canonical['structure']['observer_nodes']}"
    return None


def _crash_modes_of_4483(two_branches: tuple[C.Node, ...]) -> list[Scenario]:
    """The three crash modes of torchao 0.18 that pytorch/ao#4483 lists, in its order (two on ``two_branches``
    joined by cat)."""

    def crash_mode(n: int, title: str, notes: str, graph: tuple[C.Node, ...], annotations: list[C.NodeAnnotation],
                   **expect) -> Scenario:
        return upstream_bug_scenario(title, f"{AO}/pull/4483", f"Crash mode ({n}) of the PR: {notes}", "crashes",
                                     graph, annotations, **expect)

    cat = (*two_branches, call("cat", "aten.cat.default", (R("relu"), R("sigmoid")), 1), out("cat"))
    return [
        crash_mode(
            1, "input edge shares with the same node's later output",
            "a permute at the start of the graph whose input edge shares with its own output, the output holding "
            "the concrete spec. The input edge comes first in annotation order, so torchao 0.18 raises the bare "
            "AssertionError of _create_obs_or_fq_from_qspec. The reference prepares it: the edge and the output "
            "share one observer.",
            (ph("x", (2, 3, 4)), call("permute", "aten.permute.default", R("x"), (0, 2, 1)),
             call("relu", "aten.relu.default", R("permute")), out("relu")),
            [ann("permute", (("x", shared_out("permute")),), ACT), ann("relu", (("permute", ACT),), ACT)],
            tags=("ao-4421",),
            groups=partition(["edge:x->permute", "out:permute", "edge:permute->relu"], ["out:relu"]),
        ),
        crash_mode(
            2, "shared spec refers to an unannotated node",
            "cat's second input edge shares with the output of sigmoid, which has no annotation. torchao 0.18 fails "
            "with a bare KeyError (the node is not in its sharing map). The reference raises DanglingReferenceError "
            "naming the edge and the unannotated node.",
            cat, [ann("cat", (("relu", ACT), ("sigmoid", shared_out("sigmoid"))), ACT)],
            tags=("ao-4483-dangling",), error="DanglingReferenceError",
        ),
        crash_mode(
            3, "cycle of shared specs",
            "cat's first input edge shares with its second, the second with the output, and the output with the "
            "first, so no key of the group has a concrete spec. torchao 0.18 recurses until RecursionError (or "
            "asserts). The reference raises CyclicSharingError showing the cycle.",
            cat, [ann("cat", (("relu", shared_edge("sigmoid", "cat")), ("sigmoid", shared_out("cat"))),
                      shared_edge("relu", "cat"))],
            tags=("ao-4483-cycle",), error="CyclicSharingError",
        ),
    ]


def _cat_of_the_same_node_twice() -> list[Scenario]:
    """pytorch/pytorch#129038, conv -> cat([conv2d, conv2d]): the annotation the XNNPACK quantizer makes now, and
    the one behind the report."""
    report = "https://github.com/pytorch/pytorch/issues/129038"
    graph = (ph("x", (1, 3, 5, 5)), *conv_nodes("conv", "x", "conv2d"),
             call("cat", "aten.cat.default", (R("conv2d"), R("conv2d")), 0), out("cat"))
    conv = conv_annotation("conv", "x", "conv2d")
    return [
        upstream_bug_scenario(
            "cat of the same node twice", report,
            "conv -> cat([conv2d, conv2d]) as the XNNPACK quantizer annotates it since pytorch/pytorch#141651: "
            "the repeated input gets one entry (the concrete spec) and the output shares with the edge. The "
            "original RecursionError came from the annotator overwriting that entry with a spec shared with the "
            "edge itself (see the next case); prepare handles this form: torchao 0.18 and the reference agree "
            "(one observer for the conv output, the edge and the cat output, read once for both occurrences).",
            "fixed", graph, [conv, ann("cat", (("conv2d", ACT),), shared_edge("conv2d", "cat"))],
            groups=partition(*conv_inputs_apart("conv", "x", "conv2d"), ["out:conv2d", "edge:conv2d->cat", "out:cat"]),
        ),
        upstream_bug_scenario(
            "cat of the same node twice with a self-referencing shared spec", report,
            "The annotation behind the original report: for cat([conv2d, conv2d]) the annotator first gave the "
            "input conv2d a concrete spec, then overwrote it with SharedQuantizationSpec((conv2d, cat)) for the "
            "second occurrence, so the edge shares with itself. The report was closed by fixing the annotator; "
            "prepare itself still recurses until RecursionError on this annotation in torchao 0.18. The reference "
            "raises CyclicSharingError (a cycle of length one).",
            "crashes", graph,
            [conv, ann("cat", (("conv2d", shared_edge("conv2d", "cat")),), shared_edge("conv2d", "cat"))],
            tags=("ao-4483-cycle",), error="CyclicSharingError",
        ),
    ]


def upstream_bug_scenarios() -> list[Scenario]:
    """One case per known upstream bug (crashing, wrong, or fixed since)."""
    two_branches = (ph("x", (2, 4)), ph("y", (2, 4)), call("relu", "aten.relu.default", R("x")),
                    call("sigmoid", "aten.sigmoid.default", R("y")))
    chain = _relu_chain(DEEP_CHAIN_LENGTH)
    return [
        upstream_bug_scenario(
            "shared spec anchored on a later input of maximum",
            f"{AO}/issues/4421",
            "maximum(relu(x), sigmoid(y)): the edge from relu (first in annotation order) shares with the edge "
            "from sigmoid, which holds the concrete spec; the output shares with it too. The sharing group's "
            "first key in graph order has a SharedQuantizationSpec, so torchao 0.18 fails while creating "
            "observers: AssertionError 'please make sure only refer to edge or node that has observer/fake_quant "
            "inserted'. The reference resolves the group first and prepares it: one observer for the three keys.",
            "crashes",
            (*two_branches, call("maximum", "aten.maximum.default", R("relu"), R("sigmoid")), out("maximum")),
            [ann("maximum", (("relu", shared_edge("sigmoid", "maximum")), ("sigmoid", ACT)),
                 shared_edge("sigmoid", "maximum"))],
            tags=("ao-4421",),
            groups=partition(["edge:relu->maximum", "edge:sigmoid->maximum", "out:maximum"]),
        ),
        *_crash_modes_of_4483(two_branches),
        upstream_bug_scenario(
            "implicit sharing makes a shared edge the root of its group",
            f"{AO}/blob/v0.18.0/torchao/quantization/pt2e/prepare.py",
            "Found by the fuzz campaign (no public report yet). x feeds relu and tanh; "
            "edge x->relu has the concrete spec, edge y->sigmoid shares with it, edge x->tanh shares with "
            "y->sigmoid. Every shared spec points at an EARLIER key and the references end at a concrete spec, "
            "so the annotation is valid. torchao 0.18 processes x->relu first: implicit sharing with its sibling "
            "x->tanh unions the two with x->tanh as the root, though x->tanh only has a SharedQuantizationSpec. "
            "Resolving y->sigmoid then walks sigmoid's anchor x->relu to that root, whose spec leads back to "
            "y->sigmoid, and _unwrap_shared_qspec recurses until RecursionError. The reference resolves shared "
            "specs along their references, not union-find roots: one group of the three edges.",
            "crashes",
            (ph("x", (2, 4)), ph("y", (2, 4)), call("relu", "aten.relu.default", R("x")),
             call("sigmoid", "aten.sigmoid.default", R("y")), call("tanh", "aten.tanh.default", R("x")),
             out("relu", "sigmoid", "tanh")),
            [ann("relu", (("x", ACT),)),
             ann("sigmoid", (("y", shared_edge("x", "relu")),)),
             ann("tanh", (("x", shared_edge("y", "sigmoid")),))],
            tags=("ao-implicit-root-loop",),
            groups=partition(["edge:x->relu", "edge:y->sigmoid", "edge:x->tanh"]),
        ),
        upstream_bug_scenario(
            "minimum and eq with inputs shared in both directions",
            "https://github.com/pytorch/executorch/issues/13842",
            "The Arm backend's model: a = minimum(x, y); b = (a == x). minimum's edge from x has a spec, its edge "
            "from y and its output share with it; eq's edge from a has a spec and its edge from x shares with it. "
            "Implicit sharing then tried to point the edge (x -> minimum) at (x -> eq), which already referred "
            "back: torch/torchao before pytorch/ao#3011 recursed forever in _unwrap_shared_qspec. Fixed by "
            "pytorch/ao#3011 (_union reverses a link that would close a cycle); torchao 0.18 and the reference "
            "agree: one group of all six keys.",
            "fixed",
            (ph("x", (1,)), ph("y", (1,)), call("minimum", "aten.minimum.default", R("x"), R("y")),
             call("eq", "aten.eq.Tensor", R("minimum"), R("x")), out("eq")),
            [ann("minimum", (("x", ACT), ("y", shared_edge("x", "minimum"))), shared_edge("x", "minimum")),
             ann("eq", (("minimum", ACT), ("x", shared_edge("minimum", "eq"))))],
            groups=partition(["edge:x->minimum", "edge:y->minimum", "out:minimum", "edge:minimum->eq",
                            "edge:x->eq"]),
        ),
        *_cat_of_the_same_node_twice(),
        upstream_bug_scenario(
            "QAT fake quant around a per-channel observer loses ch_axis",
            AO_PREPARE,
            "QAT conv whose weight spec is FakeQuantize.with_args(observer=PerChannelMinMaxObserver) with "
            "per_channel_symmetric and ch_axis=1. torchao 0.18 passes ch_axis only when the outer class name "
            "contains 'PerChannel', so the fake quant silently quantizes along axis 0 (no public report yet). The "
            "reference keeps ch_axis=1.",
            "wrong",
            (ph("x", (1, 3, 5, 5)), *conv_nodes("conv", "x", "conv2d"), out("conv2d")),
            [conv_annotation("conv", "x", "conv2d", output=ACT_QAT, bias=None, weight=WEIGHT_QAT_PC_AXIS1,
                             act=ACT_QAT)],
            is_qat=True,
            tags=("ao-qat-fq-ch-axis",),
            groups=partition(["edge:x->conv2d"], ["edge:conv_weight->conv2d"], ["out:conv2d"]),
            observers=observer_fields(("edge:conv_weight->conv2d", {"ch_axis": 1, "qscheme": "torch.per_channel_symmetric",
                                                         "inner": OBS + "PerChannelMinMaxObserver"})),
        ),
        upstream_bug_scenario(
            f"sharing chain of {DEEP_CHAIN_LENGTH} links anchored at its end",
            f"{AO}/issues/4421",
            f"{DEEP_CHAIN_LENGTH} relus in a row; each output shares with the next relu's output and only the last "
            "has a concrete spec. torchao 0.18's _find_root_edge_or_node recurses once per link and raises "
            "RecursionError past Python's recursion limit (the graph-order family of pytorch/ao#4421: a chain "
            "anchored at its start stays shallow). The reference resolves chains iteratively: one group, one "
            "observer instance for every relu output.",
            "crashes",
            chain,
            [ann(f"relu_{i}", (), ACT if i == DEEP_CHAIN_LENGTH - 1 else shared_out(f"relu_{i + 1}"))
             for i in range(DEEP_CHAIN_LENGTH)],
            check=_check_deep_chain,
            tags=("ao-deep-chain",),
        ),
        upstream_bug_scenario(
            "in-place op on cat of an input and a buffer is taken for a buffer update",
            "https://github.com/pytorch/ao/blob/v0.18.0/torchao/quantization/pt2e/graph_utils.py#L194-L209",
            "Found by the fuzz campaign (no public report yet). m = minimum(cat([x, x]), state) with the buffer "
            "'state', then relu_(m) with its input edge annotated. torchao 0.18 decides whether an in-place op "
            "writes a buffer-only value with _is_mutable_buffer_arg, which walks m's producers with "
            "collect_producer_nodes; that walk looks only at arguments that are nodes themselves and skips the list "
            "[x, x], so it never meets the placeholder x, meets the buffer, and takes m for a buffer update: the "
            "annotated edge (m -> relu_), an activation computed from the model's input, gets no observer and stays "
            "in float. The same happens with torchao's XNNPACK quantizer on an exported module (repros/). The "
            "reference walks every input node, list elements included: the edge is observed.",
            "wrong",
            (attr("state", "state", (8, 8), "buffer"), ph("x", (4, 8)),
             call("cat", "aten.cat.default", (R("x"), R("x"))),
             call("minimum", "aten.minimum.default", R("cat"), R("state")),
             call("relu_", "aten.relu_.default", R("minimum")), out("minimum")),
            [ann("relu_", (("minimum", ACT),))],
            tags=("ao-buffer-walk-skips-lists",),
            groups=partition(["edge:minimum->relu_"]),
        ),
        upstream_bug_scenario(
            "input edges on either side of an in-place write share one stale observer",
            "https://github.com/pytorch/ao/blob/v0.18.0/torchao/quantization/pt2e/prepare.py#L455-L545",
            "Found while judging a float-semantics failure (no public report yet). r = relu(x); sigmoid reads r; then "
            "relu_(view(r)) rectifies r's storage in place (torch.export keeps such writes: y.view(...).relu_()); "
            "then tanh reads r. Both input edges are annotated and share one observer. torchao 0.18 inserts an "
            "edge's observer right after its producer and reuses that node for the next consumer, so tanh reads the "
            "observer's snapshot from before the write: the observer calibrates on stale values and, after "
            "convert_pt2e, tanh reads the quantized value from before the write. The reference observes each edge "
            "as its consumer reads it: one instance, two observer nodes, the second right before tanh.",
            "wrong",
            (ph("x", (2, 8)), call("relu", "aten.relu.default", R("x")),
             call("sigmoid", "aten.sigmoid.default", R("relu")),
             call("view", "aten.view.default", R("relu"), (16,)),
             call("relu_", "aten.relu_.default", R("view")),
             call("tanh", "aten.tanh.default", R("relu")), out("sigmoid", "tanh")),
            [ann("sigmoid", (("relu", ACT),)), ann("tanh", (("relu", ACT),))],
            tags=("ao-stale-edge-observer",),
            groups=partition(["edge:relu->sigmoid", "edge:relu->tanh"]),
        ),
        upstream_bug_scenario(
            "derived spec whose sources come later in graph order",
            f"{AO}/issues/4421",
            "relu's output has a DerivedQuantizationSpec computed from sigmoid's output and the edge (x -> "
            "sigmoid); sigmoid comes after relu in the graph. torchao 0.18 creates observers in annotation order "
            "and fails with a bare KeyError looking up the sources. The reference creates the sources first.",
            "crashes",
            (ph("x", (2, 4)), call("relu", "aten.relu.default", R("x")), call("sigmoid", "aten.sigmoid.default", R("x")),
             call("add", "aten.add.Tensor", R("relu"), R("sigmoid")), out("add")),
            [ann("relu", (), derived_bias(C.EdgeRef("x", "sigmoid"), C.EdgeRef("sigmoid", "add"), False)),
             ann("sigmoid", (("x", ACT),), ACT), ann("add", (("sigmoid", ACT),))],
            tags=("ao-4421-derived",),
            groups=partition(["out:relu"], ["edge:x->sigmoid"], ["out:sigmoid", "edge:sigmoid->add"]),
            observers=observer_fields(("out:relu", {"derived_from": [["edge:x->sigmoid"],
                                                          ["edge:sigmoid->add", "out:sigmoid"]]})),
        ),
    ]
