"""The conformance scenarios: the annotation patterns torchao's own prepare tests exercise, in our format.

They re-express, in our own format and words, what ``test/quantization/pt2e/test_quantize_pt2e.py`` and
``test_quantize_pt2e_qat.py`` of torchao check, plus the two annotation errors the reference names (a tensor
keyword argument, an entry for a node that is not an input) and the observer-callback case.
"""

from __future__ import annotations

from harness import case as C
from harness.corpus.scenarios.builders import (ACT, ACT_QAT, AO_PREPARE, AO_QAT_TESTS, AO_TESTS, DERIVED_CLS, FIXED, FQ,
                                               OBS, R, WEIGHT, WEIGHT_PC, ann, attr, call, conv_annotation,
                                               conv_inputs_apart, conv_nodes, derived_bias, out, ph, shared_edge)
from harness.corpus.scenarios.scenario import Scenario, conformance_scenario, observer_fields, partition

# A case with this tag is replayed with an ``obs_or_fq_callback`` that replaces the observer of the sharing
# group of the graph's first output by ``FixedQParamsObserver(scale=CALLBACK_SCALE, zero_point=...)``.
CALLBACK_TAG = "callback:fix-output-qparams"
CALLBACK_SCALE = 0.125
CALLBACK_ZERO_POINT = 42

# the groups of the conv ``conv2d = conv(x)`` whose three inputs are observed apart
_CONV_INPUTS = conv_inputs_apart("conv", "x", "conv2d")


def _fixed_observer(is_qat: bool) -> dict:
    cls = ("torchao.quantization.pt2e.fake_quantize.FixedQParamsFakeQuantize" if is_qat
           else "torchao.quantization.pt2e.observer.FixedQParamsObserver")
    return {"cls": cls, "scale": 1.0 / 256.0, "zero_point": 0, "dtype": "torch.uint8"}



def conformance_scenarios() -> list[Scenario]:
    """The annotation patterns of torchao's own prepare tests, in our format."""
    conv_graph = (ph("x", (1, 3, 5, 5)), *conv_nodes("conv", "x", "conv2d"), out("conv2d"))
    scenarios = [
        conformance_scenario(
            "conv with input, weight, bias and output annotated",
            "The simplest quantizer: a conv whose activation, weight, bias and output each get their own spec. "
            "Checks that every annotated key gets its own observer: nothing is shared, since the four values are "
            "different tensors and the input is a graph input without an output spec.",
            conv_graph, [conv_annotation("conv", "x", "conv2d")],
            groups=partition(*_CONV_INPUTS, ["out:conv2d"]),
            observers=observer_fields(("edge:conv_bias->conv2d", {"cls": OBS + "PlaceholderObserver",
                                                         "dtype": "torch.float32"}),
                           ("edge:x->conv2d", {"dtype": "torch.uint8", "quant_min": 0, "quant_max": 255})),
        ),
        conformance_scenario(
            "conv without an output annotation",
            "Only the conv's inputs are annotated. Checks that the output gets no observer at all (it is not a "
            "key), while the three inputs are observed separately.",
            conv_graph, [conv_annotation("conv", "x", "conv2d", output=None)],
            groups=partition(*_CONV_INPUTS),
        ),
        _maxpool_after_conv(conv_output=False),
        _maxpool_after_conv(conv_output=True),
    ]
    for per_channel in (False, True):
        kind = "per-channel" if per_channel else "per-tensor"
        bias = derived_bias(C.EdgeRef("x", "conv2d"), C.EdgeRef("conv_weight", "conv2d"), per_channel)
        weight = WEIGHT_PC if per_channel else WEIGHT
        scenarios.append(conformance_scenario(
            f"derived conv bias, {kind}",
            f"The bias edge has a {kind} DerivedQuantizationSpec computed from the observers of the activation "
            "edge and of the weight edge. Checks that the bias gets its own DerivedObserverOrFakeQuantize that "
            "reads exactly those two observers, in derived_from order.",
            conv_graph, [conv_annotation("conv", "x", "conv2d", bias=bias, weight=weight)],
            groups=partition(*_CONV_INPUTS, ["out:conv2d"]),
            observers=observer_fields(("edge:conv_bias->conv2d", {
                "cls": DERIVED_CLS,
                "derived_from": [["edge:x->conv2d"], ["edge:conv_weight->conv2d"]],
                "dtype": "torch.int32",
                "qscheme": "torch.per_channel_symmetric" if per_channel else "torch.per_tensor_symmetric",
            }), ("edge:conv_weight->conv2d", {"qscheme": f"torch.{weight.qscheme}"})),
        ))
    unset_axis = C.QSpec("int8", C.Ctor(FQ + "FusedMovingAvgObsFakeQuantize", (
        ("observer", C.Ctor(OBS + "MovingAveragePerChannelMinMaxObserver")),)), -127, 127, "per_channel_symmetric")
    for is_qat in (False, True):
        mode = "QAT" if is_qat else "PTQ"
        scenarios.append(conformance_scenario(
            f"per-channel weight fake quant with ch_axis unset ({mode})",
            "The conv weight's spec is per-channel and leaves ch_axis at None, with a fused fake quant around a "
            "per-channel moving-average observer (the weight spec of torchao's own QAT tests). Checks that the "
            "constructor gets no ch_axis, so the observer keeps its default axis 0 (a None would reach the fused "
            "fake-quant op, which requires an int).",
            conv_graph, [conv_annotation("conv", "x", "conv2d", bias=None, weight=unset_axis,
                                         act=ACT_QAT if is_qat else ACT, output=ACT_QAT if is_qat else ACT)],
            is_qat=is_qat, link=AO_QAT_TESTS,
            groups=partition(["edge:x->conv2d"], ["edge:conv_weight->conv2d"], ["out:conv2d"]),
            observers=observer_fields(("edge:conv_weight->conv2d", {
                "ch_axis": 0, "qscheme": "torch.per_channel_symmetric",
                "inner": OBS + "MovingAveragePerChannelMinMaxObserver"})),
        ))
    for is_qat, op, args in ((False, "aten.sigmoid.default", ()), (True, "aten.softmax.int", (-1,))):
        name = op.split(".")[1]
        mode = "QAT" if is_qat else "PTQ"
        scenarios.append(conformance_scenario(
            f"fixed qparams, {name} input and output ({mode})",
            f"{name} has a FixedQParamsQuantizationSpec (scale 1/256, zero point 0) on its input edge and its "
            f"output. Checks that in {mode} each key gets a "
            + ("FixedQParamsFakeQuantize" if is_qat else "FixedQParamsObserver")
            + " with exactly those qparams (the input is a graph input, so the two keys are separate).",
            (ph("x", (1, 3, 5, 5)), call(name, op, R("x"), *args), out(name)),
            [ann(name, (("x", FIXED),), FIXED)],
            is_qat=is_qat, link=AO_QAT_TESTS if is_qat else AO_TESTS,
            groups=partition([f"edge:x->{name}"], [f"out:{name}"]),
            observers=observer_fields((f"out:{name}", _fixed_observer(is_qat)), (f"edge:x->{name}", _fixed_observer(is_qat))),
        ))
    scenarios += [
        conformance_scenario(
            "fixed qparams output read by two users is observed once",
            "sigmoid's output has a fixed-qparams spec; it feeds add and mul, whose input edges have the same "
            "fixed spec, as does the other operand y of both. Checks deduplication: the sigmoid output and its "
            "two consumer edges share one observer, y's two consumer edges share another, and nothing is "
            "observed twice.",
            (ph("x", (1, 3, 5, 5)), ph("y", (1, 3, 5, 5)), call("sigmoid", "aten.sigmoid.default", R("x")),
             call("add", "aten.add.Tensor", R("sigmoid"), R("y")),
             call("mul", "aten.mul.Tensor", R("sigmoid"), R("y")), out("add", "mul")),
            [ann("sigmoid", (("x", FIXED),), FIXED),
             ann("add", (("sigmoid", FIXED), ("y", FIXED)), FIXED),
             ann("mul", (("sigmoid", FIXED), ("y", FIXED)), FIXED)],
            groups=partition(["edge:x->sigmoid"], ["out:sigmoid", "edge:sigmoid->add", "edge:sigmoid->mul"],
                           ["edge:y->add", "edge:y->mul"], ["out:add"], ["out:mul"]),
        ),
        _shared_cat(),
        _two_cats(anchor_second=False),
        _two_cats(anchor_second=True),
        _three_adds(allow_implicit_sharing=False),
        _three_adds(allow_implicit_sharing=True),
        conformance_scenario(
            "input edge shared by clone and eq",
            "x feeds clone and eq. clone's input edge (x -> clone) has a spec and its output shares with it; "
            "eq's input edge from clone has a spec and its edge from x shares with that edge. The two edges out "
            "of x are siblings and the edge (clone -> eq) carries clone's output, so implicit sharing links them "
            "to the explicit references in both directions (the executorch#13842 pattern). Checks that "
            "everything ends in one group, without a cycle.",
            (ph("x", (1, 4)), call("clone", "aten.clone.default", R("x")),
             call("eq", "aten.eq.Tensor", R("clone"), R("x")), out("eq")),
            [ann("clone", (("x", ACT),), shared_edge("x", "clone")),
             ann("eq", (("clone", ACT), ("x", shared_edge("clone", "eq"))))],
            link="https://github.com/pytorch/ao/pull/3011",
            groups=partition(["edge:x->clone", "out:clone", "edge:clone->eq", "edge:x->eq"]),
        ),
        conformance_scenario(
            "observer callback replaces the output's sharing group",
            "max_pool2d -> pixel_shuffle -> permute, each with a spec on its input edge and its output shared "
            "with that edge, so the whole chain is one group. The replay test passes an obs_or_fq_callback that "
            "replaces the observer of the group of the graph output by a FixedQParamsObserver (scale 0.125, "
            "zero point 42) for every key of that group, and checks that the prepared model uses it everywhere. "
            "'expected' is the result without the callback.",
            (ph("x", (1, 8, 4, 4)), call("max_pool2d", "aten.max_pool2d.default", R("x"), (2, 2), (2, 2)),
             call("pixel_shuffle", "aten.pixel_shuffle.default", R("max_pool2d"), 2),
             call("permute", "aten.permute.default", R("pixel_shuffle"), (0, 2, 3, 1)), out("permute")),
            [ann(n, ((a, ACT),), shared_edge(a, n))
             for a, n in (("x", "max_pool2d"), ("max_pool2d", "pixel_shuffle"), ("pixel_shuffle", "permute"))],
            tags=(CALLBACK_TAG,),
            groups=partition(["edge:x->max_pool2d", "out:max_pool2d", "edge:max_pool2d->pixel_shuffle",
                            "out:pixel_shuffle", "edge:pixel_shuffle->permute", "out:permute"]),
        ),
        conformance_scenario(
            "non-tensor keyword arguments are fine",
            "add takes alpha=2 and gelu approximate='tanh' as keyword arguments; both nodes are annotated. "
            "Checks that scalar kwargs do not stop prepare: inputs and outputs are observed as usual, and add's "
            "output is shared with the edge (add -> gelu).",
            (ph("x", (2, 4)), ph("y", (2, 4)), call("add", "aten.add.Tensor", R("x"), R("y"), alpha=2),
             call("gelu", "aten.gelu.default", R("add"), approximate="tanh"), out("gelu")),
            [ann("add", (("x", ACT), ("y", ACT)), ACT), ann("gelu", (("add", ACT),), ACT)],
            groups=partition(["edge:x->add"], ["edge:y->add"], ["out:add", "edge:add->gelu"], ["out:gelu"]),
        ),
        conformance_scenario(
            "tensor keyword argument on an annotated node is an error",
            "add receives its second operand as the keyword argument other=y. prepare observes positional "
            "arguments only, so y would silently stay in float. The reference raises TensorKwargError naming "
            "the node and the kwarg; torchao raises a bare AssertionError from its kwarg check (after it has "
            "already inserted input observers).",
            (ph("x", (2, 4)), ph("y", (2, 4)), call("add", "aten.add.Tensor", R("x"), other=R("y")), out("add")),
            [ann("add", (("x", ACT),), ACT)],
            tags=("ao-tensor-kwarg",), upstream="crashes", link=AO_PREPARE,
            error="TensorKwargError",
        ),
        conformance_scenario(
            "annotating a node that is not an input is an error",
            "relu's input_qspec_map names y, which relu does not read. The reference raises NotAnInputError; "
            "torchao silently ignores the entry (the spec is never used, the quantizer's bug goes unnoticed).",
            (ph("x", (2, 4)), ph("y", (2, 4)), call("relu", "aten.relu.default", R("x")),
             call("add", "aten.add.Tensor", R("relu"), R("y")), out("add")),
            [ann("relu", (("x", ACT), ("y", ACT)), ACT)],
            tags=("ao-lenient-not-an-input",), upstream="wrong", link=AO_PREPARE,
            error="NotAnInputError",
        ),
        conformance_scenario(
            "in-place write to a buffer is not observed",
            "copy_ writes the graph input x into the buffer 'state', then add reads x and the updated buffer. "
            "copy_'s edges (state -> copy_) and (x -> copy_) and add's edges are annotated. Checks that the "
            "destination of the in-place write (a buffer) is not observed, that x's two consumer edges share one "
            "observer, and that the rest is observed as usual.",
            (attr("state", "state", (1, 3, 4, 4), "buffer"), ph("x", (1, 3, 4, 4)),
             call("copy_", "aten.copy_.default", R("state"), R("x")),
             call("add", "aten.add.Tensor", R("x"), R("copy_")), out("add")),
            [ann("copy_", (("state", ACT), ("x", ACT))), ann("add", (("x", ACT), ("copy_", ACT)), ACT)],
            groups=partition(["edge:x->copy_", "edge:x->add"], ["edge:copy_->add"], ["out:add"]),
            unobserved=frozenset({"edge:state->copy_"}),
        ),
    ]
    return scenarios


def _maxpool_after_conv(conv_output: bool) -> Scenario:
    """A conv feeds max_pool2d, whose input edge has a spec and whose output shares with that edge; the conv's
    output is annotated too when ``conv_output``."""
    graph = (ph("x", (1, 3, 6, 6)), *conv_nodes("conv", "x", "conv2d"),
             call("max_pool2d", "aten.max_pool2d.default", R("conv2d"), (2, 2), (2, 2)), out("max_pool2d"))
    annotations = [conv_annotation("conv", "x", "conv2d", output=ACT if conv_output else None),
                   ann("max_pool2d", (("conv2d", ACT),), shared_edge("conv2d", "max_pool2d"))]
    shared = ["edge:conv2d->max_pool2d", "out:max_pool2d"]
    if conv_output:
        return conformance_scenario(
            "maxpool shares with its producer's output",
            "As the previous scenario, but the conv's output is annotated with the same spec as max_pool2d's "
            "input edge. Checks implicit sharing: the edge (conv2d -> max_pool2d) is the conv's output tensor, "
            "so the conv output, the edge and the maxpool output (shared with the edge) are one observer.",
            graph, annotations, groups=partition(*_CONV_INPUTS, ["out:conv2d", *shared]),
        )
    return conformance_scenario(
        "maxpool shares its input edge with its output",
        "A conv without output spec feeds max_pool2d, whose input edge has a spec and whose output shares "
        "with that input edge (SharedQuantizationSpec((conv2d, max_pool2d))). Checks that the input edge and "
        "the output of max_pool2d are one observer.",
        graph, annotations, groups=partition(*_CONV_INPUTS, shared),
    )


def _shared_cat() -> Scenario:
    graph = (ph("x", (1, 3, 5, 5)), ph("y", (1, 3, 5, 5)), *conv_nodes("conv1", "x", "conv2d"),
             *conv_nodes("conv2", "y", "conv2d_1"), call("cat", "aten.cat.default", (R("conv2d"), R("conv2d_1")), 1),
             out("cat"))
    return conformance_scenario(
        "cat of two convs shares inputs and output",
        "Two convs with annotated outputs feed cat. cat's first input edge has a spec, its second input edge and "
        "its output share with the first edge. Checks that the cat output, both input edges and both convs' "
        "outputs (implicitly shared with the edges that carry them) are one observer, while each conv's own "
        "inputs keep theirs.",
        graph,
        [conv_annotation("conv1", "x", "conv2d"), conv_annotation("conv2", "y", "conv2d_1"),
         ann("cat", (("conv2d", ACT), ("conv2d_1", shared_edge("conv2d", "cat"))), shared_edge("conv2d", "cat"))],
        groups=partition(
            ["out:conv2d", "out:conv2d_1", "edge:conv2d->cat", "edge:conv2d_1->cat", "out:cat"],
            *conv_inputs_apart("conv1", "x", "conv2d"), *conv_inputs_apart("conv2", "y", "conv2d_1"),
        ),
    )


def _cat_annotation(cat: str, inputs: tuple[str, str], anchor_second: bool) -> C.NodeAnnotation:
    first, second = inputs
    if anchor_second:  # as torchao's test builds it: the anchor is inserted first in input_qspec_map
        anchor = shared_edge(second, cat)
        return ann(cat, ((second, ACT), (first, anchor)), anchor)
    anchor = shared_edge(first, cat)
    return ann(cat, ((first, ACT), (second, anchor)), anchor)


def _two_cats(anchor_second: bool) -> Scenario:
    graph = (ph("x1", (1, 3, 5, 5)), ph("x2", (1, 3, 5, 5)), ph("x3", (1, 6, 3, 3)), ph("x4", (1, 6, 3, 3)),
             *conv_nodes("conv1", "x1", "conv2d"), *conv_nodes("conv2", "x2", "conv2d_1"),
             call("cat", "aten.cat.default", (R("conv2d"), R("conv2d_1")), 1),
             call("add", "aten.add.Tensor", R("x3"), R("x4")),
             call("cat_1", "aten.cat.default", (R("cat"), R("add")), 1), out("cat_1"))
    which = "second" if anchor_second else "first"
    return conformance_scenario(
        f"two cats, transitive sharing, anchored on {which} inputs",
        "conv, conv -> cat; cat and an unannotated add -> cat_1. Each cat's "
        f"{which} input edge has a spec and its other input edge and its output share with it. Checks "
        "transitivity: cat's output and the edge (cat -> cat_1) are the same tensor, so both cats' inputs and "
        "outputs and both convs' outputs form one group"
        + (" even though every anchor is a later input of its cat." if anchor_second else "."),
        graph,
        [conv_annotation("conv1", "x1", "conv2d"), conv_annotation("conv2", "x2", "conv2d_1"),
         _cat_annotation("cat", ("conv2d", "conv2d_1"), anchor_second),
         _cat_annotation("cat_1", ("cat", "add"), anchor_second)],
        groups=partition(
            ["out:conv2d", "out:conv2d_1", "edge:conv2d->cat", "edge:conv2d_1->cat", "out:cat", "edge:cat->cat_1",
             "edge:add->cat_1", "out:cat_1"],
            *conv_inputs_apart("conv1", "x1", "conv2d"), *conv_inputs_apart("conv2", "x2", "conv2d_1"),
        ),
    )


def _three_adds(allow_implicit_sharing: bool) -> Scenario:
    graph = (ph("x1", (1, 3, 5, 5)), ph("x2", (1, 3, 5, 5)), ph("x3", (1, 3, 5, 5)), ph("x4", (1, 3, 5, 5)),
             call("add", "aten.add.Tensor", R("x1"), R("x2")), call("add_1", "aten.add.Tensor", R("x3"), R("x4")),
             call("add_2", "aten.add.Tensor", R("add"), R("add_1")), out("add_2"))

    def add_ann(node: str, a: str, b: str) -> C.NodeAnnotation:
        anchor = shared_edge(b, node)
        return ann(node, ((b, ACT), (a, anchor)), anchor, allow_implicit_sharing)

    annotations = [add_ann("add", "x1", "x2"), add_ann("add_1", "x3", "x4"), add_ann("add_2", "add", "add_1")]
    per_add = [["edge:x1->add", "edge:x2->add", "out:add"], ["edge:x3->add_1", "edge:x4->add_1", "out:add_1"],
               ["edge:add->add_2", "edge:add_1->add_2", "out:add_2"]]
    if allow_implicit_sharing:
        return conformance_scenario(
            "three adds, implicit sharing on",
            "add(x1, x2), add(x3, x4) -> add; each add's second input edge has a spec, its first input edge and "
            "output share with it, and implicit sharing is allowed (the default). Checks that the last add's "
            "input edges join the outputs of the first two, so all nine keys share one observer (the contrast "
            "to the allow_implicit_sharing=False scenario).",
            graph, annotations, groups=partition([k for g in per_add for k in g]),
        )
    return conformance_scenario(
        "three adds, implicit sharing off",
        "As 'three adds, implicit sharing on', but every add sets allow_implicit_sharing=False. Checks that "
        "each add's inputs and output share one observer, and that the last add's input edges do not join the "
        "outputs of the first two adds: three distinct observers.",
        graph, annotations, groups=partition(*per_add),
    )

