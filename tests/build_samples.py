"""The hand-made case of the build tests (tests/fx/test_build.py, tests/fx/test_extract_real_models.py):
``sample_case`` (conv+relu, cat, batch norm, split, linear, an in-place add; every spec kind), the node constructors
it is written with, its specs, and ``_graph_and_annotations``, what a round trip must keep."""

from __future__ import annotations

from harness import case as C

OBS = "torchao.quantization.pt2e.observer."
ACT = C.QSpec("int8", C.Ctor(OBS + "HistogramObserver", (("eps", 2**-12),)), -128, 127, "per_tensor_affine")
WEIGHT = C.QSpec("int8", C.Ctor(OBS + "MinMaxObserver"), -127, 127, "per_tensor_symmetric", ch_axis=0)


def ph(name, shape, dtype="float32"):
    return C.Node(name, "placeholder", tensor=C.TensorMeta(shape, dtype))


def attr(name, target, shape, kind="parameter", dtype="float32"):
    return C.Node(name, "get_attr", target, tensor=C.TensorMeta(shape, dtype), attr_kind=kind)


def call(name, op, *args, **kwargs):
    return C.Node(name, "call_function", op, tuple(args), tuple(kwargs.items()))


def out(*refs):
    return C.Node("output", "output", args=(tuple(C.Ref(r) for r in refs),))


R = C.Ref


def sample_case(with_bn: bool = True) -> C.Case:
    """conv+relu, a second conv, cat, (batch norm), split/getitem, linear, in-place add; every spec kind.

    ``with_bn=False`` for tests that call ``convert_pt2e``: upstream's convert exports 96 conv-bn patterns
    (about a minute on two cores) as soon as a graph has any batch norm node.
    """
    bn = (
        attr("bn_mean", "bn.running_mean", (8,), "buffer"),
        attr("bn_var", "bn.running_var", (8,), "buffer"),
    )
    bn_calls = (
        call("bn", "aten._native_batch_norm_legit_no_training.default", R("cat"), None, None, R("bn_mean"),
             R("bn_var"), 0.1, 1e-5),
        call("getitem", "getitem", R("bn"), 0),
    )
    nodes = (
        attr("conv_weight", "conv.weight", (4, 3, 3, 3)),
        attr("conv_bias", "conv.bias", (4,)),
        attr("lin_weight", "lin.weight", (5, 6)),
        *(bn if with_bn else ()),
        ph("x", (1, 3, 8, 8)),
        ph("y", (1, 3, 8, 8)),
        call("conv2d", "aten.conv2d.default", R("x"), R("conv_weight"), R("conv_bias")),
        call("relu", "aten.relu.default", R("conv2d")),
        call("conv2d_1", "aten.conv2d.default", R("y"), R("conv_weight"), R("conv_bias")),
        call("cat", "aten.cat.default", (R("relu"), R("conv2d_1")), 1),
        *(bn_calls if with_bn else ()),
        call("split", "aten.split.Tensor", R("getitem" if with_bn else "cat"), 4, 1),
        call("getitem_1", "getitem", R("split"), 0),
        call("getitem_2", "getitem", R("split"), 1),
        call("mul", "aten.mul.Tensor", R("getitem_1"), 2.0),
        call("add_", "aten.add_.Tensor", R("mul"), R("getitem_2")),
        call("linear", "aten.linear.default", R("add_"), R("lin_weight")),
        call("clone", "aten.clone.default", R("linear"), memory_format=C.Const("memory_format", "contiguous_format")),
        out("clone", "getitem_2"),
    )
    bias = C.DerivedSpec((C.EdgeRef("x", "conv2d"), C.EdgeRef("conv_weight", "conv2d")),
                         "harness.derive.bias_qparams_per_tensor", "int32", -(2**31), 2**31 - 1, "per_tensor_symmetric")
    annotations = (
        C.NodeAnnotation("conv2d", (("x", ACT), ("conv_weight", WEIGHT), ("conv_bias", bias))),
        C.NodeAnnotation("relu", output=ACT),
        C.NodeAnnotation("conv2d_1", (("y", ACT), ("conv_weight", WEIGHT), ("conv_bias", None)), ACT),
        C.NodeAnnotation("cat", (("relu", ACT), ("conv2d_1", C.SharedSpec(C.EdgeRef("relu", "cat")))),
                         C.SharedSpec(C.EdgeRef("relu", "cat"))),
        C.NodeAnnotation("linear", (("add_", ACT), ("lin_weight", WEIGHT)),
                         C.FixedSpec("uint8", 1.0 / 256, 0, 0, 255, "per_tensor_affine"),
                         allow_implicit_sharing=False),
    )
    return C.Case(C.Graph(nodes), annotations, info=C.Info(title="sample"))


def _graph_and_annotations(case: C.Case):
    return case.graph, case.annotations
