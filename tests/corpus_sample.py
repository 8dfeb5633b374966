"""The hand-made case of the corpus file tests (tests/case/test_corpus_io.py, tests/case/test_corpus_malformed.py):
``small_case``, every spec kind, a QAT fake quant, a constant, an infinite argument and every field of ``info``."""

from __future__ import annotations

import math

from harness import case as C

OBS = "torchao.quantization.pt2e.observer."


def small_case(title: str = "sample case", scale: float = 0.5) -> C.Case:
    R = C.Ref
    act = C.QSpec("int8", C.Ctor(OBS + "HistogramObserver", (("eps", 2**-12),)), -128, 127, "per_tensor_affine")
    fq = C.Ctor("torchao.quantization.pt2e.fake_quantize.FakeQuantize",
                (("observer", C.Ctor(OBS + "MovingAverageMinMaxObserver", (("averaging_constant", 1),))),))
    weight = C.QSpec("int8", fq, -127, 127, "per_channel_symmetric", ch_axis=0)
    nodes = (
        C.Node("w", "get_attr", "lin.weight", tensor=C.TensorMeta((4, 6)), attr_kind="parameter"),
        C.Node("x", "placeholder", tensor=C.TensorMeta((2, 6))),
        C.Node("linear", "call_function", "aten.linear.default", (R("x"), R("w"))),
        C.Node("cat", "call_function", "aten.cat.default", ((R("linear"), R("linear")), -1)),
        C.Node("clone", "call_function", "aten.clone.default", (R("cat"),),
               (("memory_format", C.Const("memory_format", "contiguous_format")),)),
        C.Node("fill", "call_function", "aten.masked_fill.Scalar", (R("clone"), R("clone"), -math.inf)),
        C.Node("output", "output", args=((R("fill"),),)),
    )
    annotations = (
        C.NodeAnnotation("linear", (("x", act), ("w", weight)), act),
        C.NodeAnnotation("cat", (("linear", C.SharedSpec(C.NodeRef("linear"))),),
                         C.SharedSpec(C.EdgeRef("linear", "cat"))),
        C.NodeAnnotation("clone", (("cat", C.DerivedSpec((C.EdgeRef("x", "linear"), C.NodeRef("w")),
                                                         "harness.derive.bias_qparams_per_channel", "int32",
                                                         qscheme="per_channel_symmetric", ch_axis=0)),),
                         C.FixedSpec("uint8", scale, 0, 0, 255), allow_implicit_sharing=False),
    )
    return C.Case(C.Graph(nodes), annotations, is_qat=True,
                  expected=C.Expected(canonical={"groups": [[1, 2.5, "a"]], "ok": True, "none": None}),
                  info=C.Info(title=title, kind="conformance", notes="ünïcode ✓", tags=("a", "b")))
