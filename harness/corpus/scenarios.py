"""The scenarios of ``corpus/conformance`` and ``corpus/upstream_bugs``, built as case data, with hand checks.

The JSON files under ``corpus/`` are the data of record; this module only (re)generates them::

    python -m harness.corpus.scenarios            # rewrite both directories (stale files are removed)
    python -m harness.corpus.scenarios --check    # exit 1 if the files on disk are not what this module generates

Each :class:`Scenario` is a :class:`harness.case.Case` (without ``expected``) plus what its author expects,
written by hand: the sharing partition of the observed keys (``groups``), the keys that are annotated but not
observed (``unobserved``), observer fields of some keys (``observers``) or the reference's typed error
(``error``). :func:`reference_expected` computes ``expected`` with the reference prepare, and
:func:`check_expectation` compares the two, so a scenario whose reference result is not what it means can
never be written (and ``tests/test_corpus_replay.py`` re-checks the stored files the same way).

Conformance scenarios re-express, in our own format and words, the annotation patterns torchao's own test suite
exercises (``test/quantization/pt2e/test_quantize_pt2e.py`` and ``test_quantize_pt2e_qat.py``); upstream-bug
scenarios reproduce public reports, one case per bug.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

from harness import case as C

__all__ = [
    "CALLBACK_TAG",
    "CALLBACK_SCALE",
    "CALLBACK_ZERO_POINT",
    "DEEP_CHAIN_LENGTH",
    "Scenario",
    "all_scenarios",
    "check_expectation",
    "conformance_scenarios",
    "expected_partition",
    "generate",
    "main",
    "reference_expected",
    "upstream_bug_scenarios",
]

DIRECTORIES = ("conformance", "upstream_bugs")

# A case with this tag is replayed with an ``obs_or_fq_callback`` that replaces the observer of the sharing
# group of the graph's first output by ``FixedQParamsObserver(scale=CALLBACK_SCALE, zero_point=...)``.
CALLBACK_TAG = "callback:fix-output-qparams"
CALLBACK_SCALE = 0.125
CALLBACK_ZERO_POINT = 42

DEEP_CHAIN_LENGTH = 2000

_OBS = "torchao.quantization.pt2e.observer."
DERIVED_CLS = "torchao.quantization.pt2e.DerivedObserverOrFakeQuantize"
_FQ = "torchao.quantization.pt2e.fake_quantize."
_AO = "https://github.com/pytorch/ao"
_AO_TESTS = f"{_AO}/blob/v0.18.0/test/quantization/pt2e/test_quantize_pt2e.py"
_AO_QAT_TESTS = f"{_AO}/blob/v0.18.0/test/quantization/pt2e/test_quantize_pt2e_qat.py"
_AO_PREPARE = f"{_AO}/blob/v0.18.0/torchao/quantization/pt2e/prepare.py"

# ---- specs (the ones torchao's tests use, with the observers of our allow-list) -------------------------------

ACT = C.QSpec("uint8", C.Ctor(_OBS + "MinMaxObserver"), 0, 255, "per_tensor_affine")
WEIGHT = C.QSpec("int8", C.Ctor(_OBS + "MinMaxObserver"), -128, 127, "per_tensor_symmetric")
WEIGHT_PC = C.QSpec("int8", C.Ctor(_OBS + "PerChannelMinMaxObserver"), -127, 127, "per_channel_symmetric",
                    ch_axis=0)
BIAS_FLOAT = C.QSpec("float32", C.Ctor(_OBS + "PlaceholderObserver"))
FIXED = C.FixedSpec("uint8", 1.0 / 256.0, 0, 0, 255, "per_tensor_affine")
ACT_QAT = C.QSpec("int8", C.Ctor(_FQ + "FakeQuantize", (("observer", C.Ctor(_OBS + "MovingAverageMinMaxObserver")),)),
                  -128, 127, "per_tensor_affine")
# A QAT weight spec whose fake quant wraps a per-channel observer, quantizing along axis 1.
WEIGHT_QAT_PC_AXIS1 = C.QSpec(
    "int8", C.Ctor(_FQ + "FakeQuantize", (("observer", C.Ctor(_OBS + "PerChannelMinMaxObserver")),)),
    -127, 127, "per_channel_symmetric", ch_axis=1,
)


def derived_bias(act: C.EdgeRef, weight: C.EdgeRef, per_channel: bool) -> C.DerivedSpec:
    """The bias spec derived from the activation and weight observers of a conv (scale = act * weight)."""
    fn = "bias_qparams_per_channel" if per_channel else "bias_qparams_per_tensor"
    return C.DerivedSpec((act, weight), f"harness.derive.{fn}", "int32", -(2**31), 2**31 - 1,
                         "per_channel_symmetric" if per_channel else "per_tensor_symmetric",
                         ch_axis=0 if per_channel else None)


def shared_edge(arg: str, node: str) -> C.SharedSpec:
    return C.SharedSpec(C.EdgeRef(arg, node))


def shared_out(node: str) -> C.SharedSpec:
    return C.SharedSpec(C.NodeRef(node))


# ---- graph data ----------------------------------------------------------------------------------------------

R = C.Ref


def ph(name: str, shape: tuple[int, ...], dtype: str = "float32") -> C.Node:
    return C.Node(name, "placeholder", tensor=C.TensorMeta(shape, dtype))


def attr(name: str, target: str, shape: tuple[int, ...], kind: str = "parameter") -> C.Node:
    return C.Node(name, "get_attr", target, tensor=C.TensorMeta(shape), attr_kind=kind)  # type: ignore[arg-type]


def call(name: str, op: str, *args, **kwargs) -> C.Node:
    return C.Node(name, "call_function", op, tuple(args), tuple(kwargs.items()))


def out(*names: str) -> C.Node:
    return C.Node("output", "output", args=(tuple(R(n) for n in names),))


def ann(node: str, inputs: Sequence[tuple[str, Optional[C.Spec]]] = (), output: Optional[C.Spec] = None,
        allow_implicit_sharing: bool = True) -> C.NodeAnnotation:
    return C.NodeAnnotation(node, tuple(inputs), output, allow_implicit_sharing)


def conv_nodes(prefix: str, x: str, name: str, channels: int = 3) -> tuple[C.Node, ...]:
    """Weight and bias parameters of ``<prefix>`` and ``name = conv2d(x, weight, bias)`` (3x3 kernel)."""
    return (
        attr(f"{prefix}_weight", f"{prefix}.weight", (channels, 3, 3, 3)),
        attr(f"{prefix}_bias", f"{prefix}.bias", (channels,)),
        call(name, "aten.conv2d.default", R(x), R(f"{prefix}_weight"), R(f"{prefix}_bias")),
    )


def conv_annotation(prefix: str, x: str, name: str, output: Optional[C.Spec] = ACT,
                    bias: Optional[C.Spec] = BIAS_FLOAT, weight: C.Spec = WEIGHT,
                    act: C.Spec = ACT) -> C.NodeAnnotation:
    """The conv's activation, weight and bias edges (a ``None`` bias spec: the bias is not a key) and output."""
    return ann(name, ((x, act), (f"{prefix}_weight", weight), (f"{prefix}_bias", bias)), output)


# ---- scenarios -----------------------------------------------------------------------------------------------


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


def _groups(*groups: Sequence[str]) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(g) for g in groups)


def _obs(*items: tuple[str, dict]) -> tuple[tuple[str, tuple[tuple[str, object], ...]], ...]:
    return tuple((key, tuple(sorted(fields.items()))) for key, fields in items)


def _conformance(title: str, notes: str, graph: Sequence[C.Node], annotations: Sequence[C.NodeAnnotation], *,
                 is_qat: bool = False, link: str = _AO_TESTS, tags: tuple[str, ...] = (),
                 upstream: str = "", **expect) -> Scenario:
    info = C.Info(title=title, kind="conformance", link=link, notes=notes, upstream=upstream, tags=tags)
    case = C.Case(C.Graph(tuple(graph)), tuple(annotations), is_qat, None, info)
    return Scenario("conformance", case, **expect)


def _upstream_bug(title: str, link: str, notes: str, upstream: str, graph: Sequence[C.Node],
                  annotations: Sequence[C.NodeAnnotation], *, is_qat: bool = False, tags: tuple[str, ...] = (),
                  **expect) -> Scenario:
    info = C.Info(title=title, kind="upstream_bug", link=link, notes=notes, upstream=upstream, tags=tags)
    case = C.Case(C.Graph(tuple(graph)), tuple(annotations), is_qat, None, info)
    return Scenario("upstream_bugs", case, **expect)


def _fixed_observer(is_qat: bool) -> dict:
    cls = ("torchao.quantization.pt2e.fake_quantize.FixedQParamsFakeQuantize" if is_qat
           else "torchao.quantization.pt2e.observer.FixedQParamsObserver")
    return {"cls": cls, "scale": 1.0 / 256.0, "zero_point": 0, "dtype": "torch.uint8"}


def conformance_scenarios() -> list[Scenario]:
    """The annotation patterns of torchao's own prepare tests, in our format."""
    conv_graph = (ph("x", (1, 3, 5, 5)), *conv_nodes("conv", "x", "conv2d"), out("conv2d"))
    conv_inputs = ("edge:x->conv2d", "edge:conv_weight->conv2d", "edge:conv_bias->conv2d")
    scenarios = [
        _conformance(
            "conv with input, weight, bias and output annotated",
            "The simplest quantizer: a conv whose activation, weight, bias and output each get their own spec. "
            "Checks that every annotated key gets its own observer: nothing is shared, since the four values are "
            "different tensors and the input is a graph input without an output spec.",
            conv_graph, [conv_annotation("conv", "x", "conv2d")],
            groups=_groups(*[[k] for k in conv_inputs], ["out:conv2d"]),
            observers=_obs(("edge:conv_bias->conv2d", {"cls": _OBS + "PlaceholderObserver",
                                                         "dtype": "torch.float32"}),
                           ("edge:x->conv2d", {"dtype": "torch.uint8", "quant_min": 0, "quant_max": 255})),
        ),
        _conformance(
            "conv without an output annotation",
            "Only the conv's inputs are annotated. Checks that the output gets no observer at all (it is not a "
            "key), while the three inputs are observed separately.",
            conv_graph, [conv_annotation("conv", "x", "conv2d", output=None)],
            groups=_groups(*[[k] for k in conv_inputs]),
        ),
        _conformance(
            "maxpool shares its input edge with its output",
            "A conv without output spec feeds max_pool2d, whose input edge has a spec and whose output shares "
            "with that input edge (SharedQuantizationSpec((conv2d, max_pool2d))). Checks that the input edge and "
            "the output of max_pool2d are one observer.",
            (ph("x", (1, 3, 6, 6)), *conv_nodes("conv", "x", "conv2d"),
             call("max_pool2d", "aten.max_pool2d.default", R("conv2d"), (2, 2), (2, 2)), out("max_pool2d")),
            [conv_annotation("conv", "x", "conv2d", output=None),
             ann("max_pool2d", (("conv2d", ACT),), shared_edge("conv2d", "max_pool2d"))],
            groups=_groups(*[[k] for k in conv_inputs], ["edge:conv2d->max_pool2d", "out:max_pool2d"]),
        ),
        _conformance(
            "maxpool shares with its producer's output",
            "As the previous scenario, but the conv's output is annotated with the same spec as max_pool2d's "
            "input edge. Checks implicit sharing: the edge (conv2d -> max_pool2d) is the conv's output tensor, "
            "so the conv output, the edge and the maxpool output (shared with the edge) are one observer.",
            (ph("x", (1, 3, 6, 6)), *conv_nodes("conv", "x", "conv2d"),
             call("max_pool2d", "aten.max_pool2d.default", R("conv2d"), (2, 2), (2, 2)), out("max_pool2d")),
            [conv_annotation("conv", "x", "conv2d"),
             ann("max_pool2d", (("conv2d", ACT),), shared_edge("conv2d", "max_pool2d"))],
            groups=_groups(*[[k] for k in conv_inputs],
                           ["out:conv2d", "edge:conv2d->max_pool2d", "out:max_pool2d"]),
        ),
    ]
    for per_channel in (False, True):
        kind = "per-channel" if per_channel else "per-tensor"
        bias = derived_bias(C.EdgeRef("x", "conv2d"), C.EdgeRef("conv_weight", "conv2d"), per_channel)
        weight = WEIGHT_PC if per_channel else WEIGHT
        scenarios.append(_conformance(
            f"derived conv bias, {kind}",
            f"The bias edge has a {kind} DerivedQuantizationSpec computed from the observers of the activation "
            "edge and of the weight edge. Checks that the bias gets its own DerivedObserverOrFakeQuantize that "
            "reads exactly those two observers, in derived_from order.",
            conv_graph, [conv_annotation("conv", "x", "conv2d", bias=bias, weight=weight)],
            groups=_groups(*[[k] for k in conv_inputs], ["out:conv2d"]),
            observers=_obs(("edge:conv_bias->conv2d", {
                "cls": DERIVED_CLS,
                "derived_from": [["edge:x->conv2d"], ["edge:conv_weight->conv2d"]],
                "dtype": "torch.int32",
                "qscheme": "torch.per_channel_symmetric" if per_channel else "torch.per_tensor_symmetric",
            }), ("edge:conv_weight->conv2d", {"qscheme": f"torch.{weight.qscheme}"})),
        ))
    for is_qat, op, args in ((False, "aten.sigmoid.default", ()), (True, "aten.softmax.int", (-1,))):
        name = op.split(".")[1]
        mode = "QAT" if is_qat else "PTQ"
        scenarios.append(_conformance(
            f"fixed qparams, {name} input and output ({mode})",
            f"{name} has a FixedQParamsQuantizationSpec (scale 1/256, zero point 0) on its input edge and its "
            f"output. Checks that in {mode} each key gets a "
            + ("FixedQParamsFakeQuantize" if is_qat else "FixedQParamsObserver")
            + " with exactly those qparams (the input is a graph input, so the two keys are separate).",
            (ph("x", (1, 3, 5, 5)), call(name, op, R("x"), *args), out(name)),
            [ann(name, (("x", FIXED),), FIXED)],
            is_qat=is_qat, link=_AO_QAT_TESTS if is_qat else _AO_TESTS,
            groups=_groups([f"edge:x->{name}"], [f"out:{name}"]),
            observers=_obs((f"out:{name}", _fixed_observer(is_qat)), (f"edge:x->{name}", _fixed_observer(is_qat))),
        ))
    scenarios += [
        _conformance(
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
            groups=_groups(["edge:x->sigmoid"], ["out:sigmoid", "edge:sigmoid->add", "edge:sigmoid->mul"],
                           ["edge:y->add", "edge:y->mul"], ["out:add"], ["out:mul"]),
        ),
        _shared_cat(),
        _two_cats(anchor_second=False),
        _two_cats(anchor_second=True),
        _three_adds(allow_implicit_sharing=False),
        _three_adds(allow_implicit_sharing=True),
        _conformance(
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
            groups=_groups(["edge:x->clone", "out:clone", "edge:clone->eq", "edge:x->eq"]),
        ),
        _conformance(
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
            groups=_groups(["edge:x->max_pool2d", "out:max_pool2d", "edge:max_pool2d->pixel_shuffle",
                            "out:pixel_shuffle", "edge:pixel_shuffle->permute", "out:permute"]),
        ),
        _conformance(
            "non-tensor keyword arguments are fine",
            "add takes alpha=2 and gelu approximate='tanh' as keyword arguments; both nodes are annotated. "
            "Checks that scalar kwargs do not stop prepare: inputs and outputs are observed as usual, and add's "
            "output is shared with the edge (add -> gelu).",
            (ph("x", (2, 4)), ph("y", (2, 4)), call("add", "aten.add.Tensor", R("x"), R("y"), alpha=2),
             call("gelu", "aten.gelu.default", R("add"), approximate="tanh"), out("gelu")),
            [ann("add", (("x", ACT), ("y", ACT)), ACT), ann("gelu", (("add", ACT),), ACT)],
            groups=_groups(["edge:x->add"], ["edge:y->add"], ["out:add", "edge:add->gelu"], ["out:gelu"]),
        ),
        _conformance(
            "tensor keyword argument on an annotated node is an error",
            "add receives its second operand as the keyword argument other=y. prepare observes positional "
            "arguments only, so y would silently stay in float. The reference raises TensorKwargError naming "
            "the node and the kwarg; torchao raises a bare AssertionError from its kwarg check (after it has "
            "already inserted input observers).",
            (ph("x", (2, 4)), ph("y", (2, 4)), call("add", "aten.add.Tensor", R("x"), other=R("y")), out("add")),
            [ann("add", (("x", ACT),), ACT)],
            tags=("ao-tensor-kwarg",), upstream="crashes", link=_AO_PREPARE,
            error="TensorKwargError",
        ),
        _conformance(
            "annotating a node that is not an input is an error",
            "relu's input_qspec_map names y, which relu does not read. The reference raises NotAnInputError; "
            "torchao silently ignores the entry (the spec is never used, the quantizer's bug goes unnoticed).",
            (ph("x", (2, 4)), ph("y", (2, 4)), call("relu", "aten.relu.default", R("x")),
             call("add", "aten.add.Tensor", R("relu"), R("y")), out("add")),
            [ann("relu", (("x", ACT), ("y", ACT)), ACT)],
            tags=("ao-lenient-not-an-input",), upstream="wrong", link=_AO_PREPARE,
            error="NotAnInputError",
        ),
        _conformance(
            "in-place write to a buffer is not observed",
            "copy_ writes the graph input x into the buffer 'state', then add reads x and the updated buffer. "
            "copy_'s edges (state -> copy_) and (x -> copy_) and add's edges are annotated. Checks that the "
            "destination of the in-place write (a buffer) is not observed, that x's two consumer edges share one "
            "observer, and that the rest is observed as usual.",
            (attr("state", "state", (1, 3, 4, 4), "buffer"), ph("x", (1, 3, 4, 4)),
             call("copy_", "aten.copy_.default", R("state"), R("x")),
             call("add", "aten.add.Tensor", R("x"), R("copy_")), out("add")),
            [ann("copy_", (("state", ACT), ("x", ACT))), ann("add", (("x", ACT), ("copy_", ACT)), ACT)],
            groups=_groups(["edge:x->copy_", "edge:x->add"], ["edge:copy_->add"], ["out:add"]),
            unobserved=frozenset({"edge:state->copy_"}),
        ),
    ]
    return scenarios


def _shared_cat() -> Scenario:
    graph = (ph("x", (1, 3, 5, 5)), ph("y", (1, 3, 5, 5)), *conv_nodes("conv1", "x", "conv2d"),
             *conv_nodes("conv2", "y", "conv2d_1"), call("cat", "aten.cat.default", (R("conv2d"), R("conv2d_1")), 1),
             out("cat"))
    return _conformance(
        "cat of two convs shares inputs and output",
        "Two convs with annotated outputs feed cat. cat's first input edge has a spec, its second input edge and "
        "its output share with the first edge. Checks that the cat output, both input edges and both convs' "
        "outputs (implicitly shared with the edges that carry them) are one observer, while each conv's own "
        "inputs keep theirs.",
        graph,
        [conv_annotation("conv1", "x", "conv2d"), conv_annotation("conv2", "y", "conv2d_1"),
         ann("cat", (("conv2d", ACT), ("conv2d_1", shared_edge("conv2d", "cat"))), shared_edge("conv2d", "cat"))],
        groups=_groups(
            ["out:conv2d", "out:conv2d_1", "edge:conv2d->cat", "edge:conv2d_1->cat", "out:cat"],
            ["edge:x->conv2d"], ["edge:conv1_weight->conv2d"], ["edge:conv1_bias->conv2d"],
            ["edge:y->conv2d_1"], ["edge:conv2_weight->conv2d_1"], ["edge:conv2_bias->conv2d_1"],
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
    return _conformance(
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
        groups=_groups(
            ["out:conv2d", "out:conv2d_1", "edge:conv2d->cat", "edge:conv2d_1->cat", "out:cat", "edge:cat->cat_1",
             "edge:add->cat_1", "out:cat_1"],
            ["edge:x1->conv2d"], ["edge:conv1_weight->conv2d"], ["edge:conv1_bias->conv2d"],
            ["edge:x2->conv2d_1"], ["edge:conv2_weight->conv2d_1"], ["edge:conv2_bias->conv2d_1"],
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
        return _conformance(
            "three adds, implicit sharing on",
            "add(x1, x2), add(x3, x4) -> add; each add's second input edge has a spec, its first input edge and "
            "output share with it, and implicit sharing is allowed (the default). Checks that the last add's "
            "input edges join the outputs of the first two, so all nine keys share one observer (the contrast "
            "to the allow_implicit_sharing=False scenario).",
            graph, annotations, groups=_groups([k for g in per_add for k in g]),
        )
    return _conformance(
        "three adds, implicit sharing off",
        "As 'three adds, implicit sharing on', but every add sets allow_implicit_sharing=False. Checks that "
        "each add's inputs and output share one observer, and that the last add's input edges do not join the "
        "outputs of the first two adds: three distinct observers.",
        graph, annotations, groups=_groups(*per_add),
    )


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


def upstream_bug_scenarios() -> list[Scenario]:
    """One case per known upstream bug (crashing, wrong, or fixed since)."""
    two_branches = (ph("x", (2, 4)), ph("y", (2, 4)), call("relu", "aten.relu.default", R("x")),
                    call("sigmoid", "aten.sigmoid.default", R("y")))
    chain = _relu_chain(DEEP_CHAIN_LENGTH)
    return [
        _upstream_bug(
            "shared spec anchored on a later input of maximum",
            f"{_AO}/issues/4421",
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
            groups=_groups(["edge:relu->maximum", "edge:sigmoid->maximum", "out:maximum"]),
        ),
        _upstream_bug(
            "input edge shares with the same node's later output",
            f"{_AO}/pull/4483",
            "Crash mode (1) of the PR: a permute at the start of the graph whose input edge shares with its own "
            "output, the output holding the concrete spec. The input edge comes first in annotation order, so "
            "torchao 0.18 raises the bare AssertionError of _create_obs_or_fq_from_qspec. The reference prepares "
            "it: the edge and the output share one observer.",
            "crashes",
            (ph("x", (2, 3, 4)), call("permute", "aten.permute.default", R("x"), (0, 2, 1)),
             call("relu", "aten.relu.default", R("permute")), out("relu")),
            [ann("permute", (("x", shared_out("permute")),), ACT), ann("relu", (("permute", ACT),), ACT)],
            tags=("ao-4421",),
            groups=_groups(["edge:x->permute", "out:permute", "edge:permute->relu"], ["out:relu"]),
        ),
        _upstream_bug(
            "shared spec refers to an unannotated node",
            f"{_AO}/pull/4483",
            "Crash mode (2) of the PR: cat's second input edge shares with the output of sigmoid, which has no "
            "annotation. torchao 0.18 fails with a bare KeyError (the node is not in its sharing map). The "
            "reference raises DanglingReferenceError naming the edge and the unannotated node.",
            "crashes",
            (*two_branches, call("cat", "aten.cat.default", (R("relu"), R("sigmoid")), 1), out("cat")),
            [ann("cat", (("relu", ACT), ("sigmoid", shared_out("sigmoid"))), ACT)],
            tags=("ao-4483-dangling",),
            error="DanglingReferenceError",
        ),
        _upstream_bug(
            "implicit sharing makes a shared edge the root of its group",
            f"{_AO}/blob/v0.18.0/torchao/quantization/pt2e/prepare.py",
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
            groups=_groups(["edge:x->relu", "edge:y->sigmoid", "edge:x->tanh"]),
        ),
        _upstream_bug(
            "cycle of shared specs",
            f"{_AO}/pull/4483",
            "Crash mode (3) of the PR: cat's first input edge shares with its second, the second with the output, "
            "and the output with the first, so no key of the group has a concrete spec. torchao 0.18 recurses "
            "until RecursionError (or asserts). The reference raises CyclicSharingError showing the cycle.",
            "crashes",
            (*two_branches, call("cat", "aten.cat.default", (R("relu"), R("sigmoid")), 1), out("cat")),
            [ann("cat", (("relu", shared_edge("sigmoid", "cat")), ("sigmoid", shared_out("cat"))),
                 shared_edge("relu", "cat"))],
            tags=("ao-4483-cycle",),
            error="CyclicSharingError",
        ),
        _upstream_bug(
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
            groups=_groups(["edge:x->minimum", "edge:y->minimum", "out:minimum", "edge:minimum->eq",
                            "edge:x->eq"]),
        ),
        _upstream_bug(
            "cat of the same node twice",
            "https://github.com/pytorch/pytorch/issues/129038",
            "conv -> cat([conv2d, conv2d]) as the XNNPACK quantizer annotates it since pytorch/pytorch#141651: "
            "the repeated input gets one entry (the concrete spec) and the output shares with the edge. The "
            "original RecursionError came from the annotator overwriting that entry with a spec shared with the "
            "edge itself (see the next case); prepare handles this form: torchao 0.18 and the reference agree "
            "(one observer for the conv output, the edge and the cat output, read once for both occurrences).",
            "fixed",
            (ph("x", (1, 3, 5, 5)), *conv_nodes("conv", "x", "conv2d"),
             call("cat", "aten.cat.default", (R("conv2d"), R("conv2d")), 0), out("cat")),
            [conv_annotation("conv", "x", "conv2d"),
             ann("cat", (("conv2d", ACT),), shared_edge("conv2d", "cat"))],
            groups=_groups(["edge:x->conv2d"], ["edge:conv_weight->conv2d"], ["edge:conv_bias->conv2d"],
                           ["out:conv2d", "edge:conv2d->cat", "out:cat"]),
        ),
        _upstream_bug(
            "cat of the same node twice with a self-referencing shared spec",
            "https://github.com/pytorch/pytorch/issues/129038",
            "The annotation behind the original report: for cat([conv2d, conv2d]) the annotator first gave the "
            "input conv2d a concrete spec, then overwrote it with SharedQuantizationSpec((conv2d, cat)) for the "
            "second occurrence, so the edge shares with itself. The report was closed by fixing the annotator; "
            "prepare itself still recurses until RecursionError on this annotation in torchao 0.18. The reference "
            "raises CyclicSharingError (a cycle of length one).",
            "crashes",
            (ph("x", (1, 3, 5, 5)), *conv_nodes("conv", "x", "conv2d"),
             call("cat", "aten.cat.default", (R("conv2d"), R("conv2d")), 0), out("cat")),
            [conv_annotation("conv", "x", "conv2d"),
             ann("cat", (("conv2d", shared_edge("conv2d", "cat")),), shared_edge("conv2d", "cat"))],
            tags=("ao-4483-cycle",),
            error="CyclicSharingError",
        ),
        _upstream_bug(
            "QAT fake quant around a per-channel observer loses ch_axis",
            _AO_PREPARE,
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
            groups=_groups(["edge:x->conv2d"], ["edge:conv_weight->conv2d"], ["out:conv2d"]),
            observers=_obs(("edge:conv_weight->conv2d", {"ch_axis": 1, "qscheme": "torch.per_channel_symmetric",
                                                         "inner": _OBS + "PerChannelMinMaxObserver"})),
        ),
        _upstream_bug(
            f"sharing chain of {DEEP_CHAIN_LENGTH} links anchored at its end",
            f"{_AO}/issues/4421",
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
        _upstream_bug(
            "derived spec whose sources come later in graph order",
            f"{_AO}/issues/4421",
            "relu's output has a DerivedQuantizationSpec computed from sigmoid's output and the edge (x -> "
            "sigmoid); sigmoid comes after relu in the graph. torchao 0.18 creates observers in annotation order "
            "and fails with a bare KeyError looking up the sources. The reference creates the sources first.",
            "crashes",
            (ph("x", (2, 4)), call("relu", "aten.relu.default", R("x")), call("sigmoid", "aten.sigmoid.default", R("x")),
             call("add", "aten.add.Tensor", R("relu"), R("sigmoid")), out("add")),
            [ann("relu", (), derived_bias(C.EdgeRef("x", "sigmoid"), C.EdgeRef("sigmoid", "add"), False)),
             ann("sigmoid", (("x", ACT),), ACT), ann("add", (("sigmoid", ACT),))],
            tags=("ao-4421-derived",),
            groups=_groups(["out:relu"], ["edge:x->sigmoid"], ["out:sigmoid", "edge:sigmoid->add"]),
            observers=_obs(("out:relu", {"derived_from": [["edge:x->sigmoid"],
                                                          ["edge:sigmoid->add", "out:sigmoid"]]})),
        ),
    ]


def all_scenarios() -> list[Scenario]:
    """Every scenario, conformance first; titles are unique."""
    scenarios = conformance_scenarios() + upstream_bug_scenarios()
    titles = [s.title for s in scenarios]
    duplicates = sorted({t for t in titles if titles.count(t) > 1})
    if duplicates:
        raise ValueError(f"duplicate scenario titles: {duplicates}")
    return scenarios


# ---- expected results ----------------------------------------------------------------------------------------


def reference_expected(case: C.Case) -> C.Expected:
    """What the reference prepare does with ``case``: its canonical form, or the name of its typed error."""
    import prepare_impl
    from harness.fx.build import build
    from harness.check.canonical import canonical_form

    original = build(case)
    work = build(case)
    try:
        prepared = prepare_impl.prepare(work, {}, case.is_qat)
    except prepare_impl.AnnotationError as e:
        return C.Expected(error=type(e).__name__)
    return C.Expected(canonical=canonical_form(original, prepared).to_json())


def expected_partition(canonical: dict) -> set[frozenset[str]]:
    """The observed keys of canonical JSON data, grouped by observer instance."""
    return {frozenset(g["keys"]) for g in canonical.get("groups", [])}


def _show(groups: set[frozenset[str]]) -> str:
    return "; ".join("{" + ", ".join(sorted(g)) + "}" for g in sorted(groups, key=lambda g: sorted(g)))


def check_expectation(scenario: Scenario, expected: Optional[C.Expected]) -> list[str]:
    """Problems with ``expected`` (the reference's result) given what the scenario's author expects; [] if none."""
    if expected is None:
        return ["no expected result"]
    if scenario.error is not None:
        if expected.error != scenario.error:
            got = expected.error or "a prepared model"
            return [f"expected the reference to raise {scenario.error}, got {got}"]
        return []
    if expected.error is not None or expected.canonical is None:
        return [f"expected a prepared model, the reference raised {expected.error}"]
    canonical = expected.canonical
    problems = []
    if scenario.groups is not None:
        want, got = set(scenario.groups), expected_partition(canonical)
        if want != got:
            problems.append(f"partition: expected {_show(want)}; reference gives {_show(got)}")
    if set(canonical.get("unobserved", [])) != set(scenario.unobserved):
        problems.append(f"unobserved: expected {sorted(scenario.unobserved)}, reference leaves "
                        f"{sorted(canonical.get('unobserved', []))}")
    by_key = {k: g["observer"] for g in canonical.get("groups", []) for k in g["keys"]}
    for key, fields in scenario.observers:
        observer = by_key.get(key)
        if observer is None:
            problems.append(f"{key}: expected an observer, the reference leaves it unobserved")
            continue
        for name, value in fields:
            if observer.get(name) != value:
                problems.append(f"{key}: expected observer {name}={value!r}, reference has {observer.get(name)!r}")
    if scenario.check is not None:
        problem = scenario.check(canonical)
        if problem:
            problems.append(problem)
    return problems


# ---- the corpus files ----------------------------------------------------------------------------------------


def with_expected(scenario: Scenario) -> C.Case:
    """The scenario's case with ``expected`` computed by the reference; raises if it contradicts the scenario."""
    expected = reference_expected(scenario.case)
    problems = check_expectation(scenario, expected)
    if problems:
        raise AssertionError(f"scenario {scenario.title!r}: " + " | ".join(problems))
    return replace(scenario.case, expected=expected)


def generate(root: "os.PathLike[str] | str", scenarios: Optional[Sequence[Scenario]] = None) -> list[Path]:
    """Write every scenario under ``root/<directory>/``; remove other ``*.json`` files there. The written paths."""
    from harness.case.files import save_case

    scenarios = all_scenarios() if scenarios is None else list(scenarios)
    root = Path(root)
    written = [save_case(with_expected(s), root / s.directory) for s in scenarios]
    keep = set(written)
    for directory in {s.directory for s in scenarios}:
        for stale in (root / directory).glob("*.json"):
            if stale not in keep:
                stale.unlink()
    return written


def differences(root: "os.PathLike[str] | str", scenarios: Optional[Sequence[Scenario]] = None) -> list[str]:
    """How the files under ``root`` differ from what :func:`generate` would write (empty: identical)."""
    from harness.case.files import case_filename, dumps

    scenarios = all_scenarios() if scenarios is None else list(scenarios)
    root = Path(root)
    wanted: dict[Path, str] = {}
    for s in scenarios:
        case = with_expected(s)
        wanted[root / s.directory / case_filename(case)] = dumps(case)
    problems = []
    for path, text in sorted(wanted.items()):
        if not path.is_file():
            problems.append(f"missing: {path}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"differs: {path}")
    for directory in sorted({s.directory for s in scenarios}):
        for path in sorted((root / directory).glob("*.json")):
            if path not in wanted:
                problems.append(f"not generated by harness.corpus.scenarios: {path}")
    return problems


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness scenarios",
                                     description="Regenerate corpus/conformance and corpus/upstream_bugs.")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "corpus"),
                        help="the corpus directory (default: the project's corpus/)")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the files differ")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences(args.root)
        for p in problems:
            print(p)
        return 1 if problems else 0
    for path in generate(args.root):
        print(path)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")
    sys.exit(main())
