"""harness.fx.build / harness.fx.extract / harness.fx.fakeval: cases to GraphModules and back."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensor
from torch.fx.node import map_arg

from harness import case as C
from harness.fx import fakeval
from harness.case import names
from harness.fx import ops
from harness.fx.build import BuildError, UnsupportedGraph, annotate, build, build_module, example_inputs, extract_case
from torchao.quantization.pt2e import observer as obs
from torchao.quantization.pt2e.prepare import prepare
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e
from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationAnnotation,
    QuantizationSpec,
    SharedQuantizationSpec,
)

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


# ---- build_module ------------------------------------------------------------------------------


def test_nodes_are_exactly_those_of_the_case():
    case = sample_case()
    gm = build_module(case.graph)
    got = list(gm.graph.nodes)
    assert [n.name for n in got] == [n.name for n in case.graph.nodes]
    assert [n.op for n in got] == [n.op for n in case.graph.nodes]
    for fx_node, node in zip(got, case.graph.nodes):
        if node.op == "get_attr":
            assert fx_node.target == node.target
        if node.op == "call_function":
            assert fx_node.target is ops.resolve_op(node.target)
    cat = next(n for n in got if n.name == "cat")
    assert [a.name for a in cat.args[0]] == ["relu", "conv2d_1"] and cat.args[1] == 1
    clone = next(n for n in got if n.name == "clone")
    assert clone.kwargs == {"memory_format": torch.contiguous_format}


def test_parameters_and_buffers_are_registered_deterministically():
    case = sample_case()
    gm = build_module(case.graph, seed=3)
    params = dict(gm.named_parameters())
    buffers = dict(gm.named_buffers())
    assert set(params) == {"conv.weight", "conv.bias", "lin.weight"}
    assert set(buffers) == {"bn.running_mean", "bn.running_var"}
    assert set(dict(build_module(sample_case(with_bn=False).graph).named_buffers())) == set()
    assert isinstance(gm.get_submodule("conv"), torch.nn.Module)
    assert params["conv.weight"].shape == (4, 3, 3, 3)
    assert bool((buffers["bn.running_var"] > 0).all())  # a valid variance
    again = build_module(case.graph, seed=3)
    other = build_module(case.graph, seed=4)
    for name, value in params.items():
        assert torch.equal(value, dict(again.named_parameters())[name])
        assert not torch.equal(value, dict(other.named_parameters())[name])


@pytest.mark.parametrize("dtype", names.TENSOR_DTYPE_NAMES)
def test_every_tensor_dtype_builds(dtype):
    graph = C.Graph((ph("x", (2, 3), dtype), attr("w", "m.w", (3,), "buffer", dtype),
                     C.Node("output", "output", args=((R("x"), R("w")),))))
    gm = build_module(graph)
    (x,) = example_inputs(graph)
    assert x.dtype == ops.resolve_dtype(dtype) and gm.get_buffer("m.w").dtype == x.dtype
    assert next(iter(gm.graph.nodes)).meta["val"].dtype == x.dtype


def test_example_inputs_follow_placeholders_and_seed():
    graph = C.Graph((ph("x", (2, 3)), ph("idx", (4,), "int64"), ph("m", (2,), "bool"),
                     call("e", "aten.embedding.default", R("x"), R("idx")), out("e")))
    a = example_inputs(graph, seed=1)
    assert [t.shape for t in a] == [(2, 3), (4,), (2,)]
    assert [t.dtype for t in a] == [torch.float32, torch.int64, torch.bool]
    assert set(a[1].tolist()) <= {0, 1}  # safe indices
    assert all(torch.equal(p, q) for p, q in zip(a, example_inputs(graph, seed=1)))
    assert not torch.equal(a[0], example_inputs(graph, seed=2)[0])
    gm = build_module(graph)
    assert gm(*a)[0].shape == (4, 3)


def _real_values(gm: torch.fx.GraphModule, inputs) -> dict[str, object]:
    values: dict[str, object] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            values[n.name] = result
            return result

    with torch.no_grad():
        Recorder(gm).run(*inputs)
    return values


def _same_meta(fake, real, where):
    if isinstance(real, torch.Tensor):
        assert isinstance(fake, FakeTensor), where
        assert fake.shape == real.shape and fake.dtype == real.dtype and fake.device == real.device, where
    elif isinstance(real, (list, tuple)):
        assert type(fake) is type(real) and len(fake) == len(real), where
        for i, (f, r) in enumerate(zip(fake, real)):
            _same_meta(f, r, f"{where}[{i}]")
    else:
        assert fake == real, where


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_meta_val_matches_real_execution(cache):
    if cache == "cold":
        fakeval.clear_cache()
    else:
        build_module(sample_case().graph)  # fill the cache
    case = sample_case()
    gm = build_module(case.graph)
    real = _real_values(gm, example_inputs(case.graph))
    for n in gm.graph.nodes:
        if n.op == "output":
            continue
        _same_meta(n.meta["val"], real[n.name], n.name)


def test_meta_val_shapes_like_torch_export():
    gm = build_module(sample_case().graph)
    vals = {n.name: n.meta["val"] for n in gm.graph.nodes}
    assert isinstance(vals["split"], list) and len(vals["split"]) == 2  # Tensor[] -> list, as export gives
    assert isinstance(vals["bn"], tuple) and len(vals["bn"]) == 3
    assert vals["getitem_1"].shape == (1, 4, 6, 6)
    assert vals["add_"] is vals["mul"]  # in-place: the very input value
    assert vals["output"] is None
    modes = {v.fake_mode for v in vals.values() if isinstance(v, FakeTensor)}
    assert len(modes) == 1
    # as under torch.export; convert_pt2e's batch-norm clean-up indexes it and raises KeyError without it
    assert all(n.meta["nn_module_stack"] == {} for n in gm.graph.nodes if n.op == "call_function")


def test_rebuilding_a_graph_reuses_its_values_but_not_its_nodes():
    # the differential check builds every case three times; the FakeTensor values are computed once
    graph = C.Graph((ph("x", (2, 6)), call("s", "aten.split.Tensor", R("x"), 3, 1), call("g", "getitem", R("s"), 1),
                     out("g")))
    first = build_module(graph)
    second = build_module(graph)
    a = next(n for n in first.graph.nodes if n.name == "s")
    b = next(n for n in second.graph.nodes if n.name == "s")
    assert a is not b and first.graph is not second.graph
    assert a.meta["val"][0].shape == b.meta["val"][0].shape == (2, 3)
    assert a.meta["val"] is b.meta["val"]


def _replace_node(case: C.Case, which: str, **changes) -> C.Graph:
    return C.Graph(tuple(dataclasses.replace(n, **changes) if n.name == which else n for n in case.graph.nodes))


@pytest.mark.parametrize(
    "graph,match",
    [
        (_replace_node(sample_case(), "lin_weight", tensor=C.TensorMeta((5, 7))), r"node 'linear'.*aten.linear"),
        (_replace_node(sample_case(), "relu", target="aten.sin.default"), r"node 'relu'.*unknown op 'aten.sin"),
        (_replace_node(sample_case(), "relu", args=(R("cat"),)), r"node 'relu'.*later node 'cat'"),
        (_replace_node(sample_case(), "relu", args=(R("nope"),)), r"node 'relu'.*unknown or later node 'nope'"),
        (_replace_node(sample_case(), "relu", name="max"), r"node 'max'.*renamed"),
        (_replace_node(sample_case(), "relu", name="cat"), r"duplicate node name 'cat'"),
        (_replace_node(sample_case(), "conv_bias", target="conv.weight.x"), r"node 'conv_bias'.*non-module"),
        (_replace_node(sample_case(), "conv_bias", target="conv..b"), r"node 'conv_bias'.*bad attribute path"),
        (_replace_node(sample_case(), "conv_bias", target="conv.weight"), r"node 'conv_bias'.*defined twice"),
        (_replace_node(sample_case(), "conv_bias", attr_kind=None), r"node 'conv_bias'.*attr_kind"),
        (_replace_node(sample_case(), "x", tensor=None), r"node 'x'.*needs a tensor"),
        (_replace_node(sample_case(), "x", tensor=C.TensorMeta((1, -3))), r"node 'x'.*bad shape"),
        (_replace_node(sample_case(), "x", tensor=C.TensorMeta((1,), "int9")), r"node 'x'.*unknown tensor dtype"),
        (_replace_node(sample_case(), "x", tensor=C.TensorMeta((1,), "int4")), r"node 'x'.*unknown tensor dtype"),
        (_replace_node(sample_case(), "clone", kwargs=(("memory_format", C.Const("memory_format", "x")),)),
         r"node 'clone'.*unknown memory_format 'x'"),
        (C.Graph(sample_case().graph.nodes[:-1]), r"exactly one output"),
        (_replace_node(sample_case(), "getitem_2", args=(R("split"), 5)), r"node 'getitem_2'.*IndexError"),
    ],
)
def test_bad_graphs_raise_build_error_naming_the_node(graph, match):
    with pytest.raises(BuildError, match=match):
        build_module(graph)


# ---- annotate ----------------------------------------------------------------------------------


def test_annotations_are_real_torchao_annotations():
    case = sample_case()
    gm = build(case)
    nodes = {n.name: n for n in gm.graph.nodes}
    conv = nodes["conv2d"].meta["quantization_annotation"]
    assert isinstance(conv, QuantizationAnnotation) and conv.allow_implicit_sharing
    assert list(conv.input_qspec_map) == [nodes["x"], nodes["conv_weight"], nodes["conv_bias"]]
    act = conv.input_qspec_map[nodes["x"]]
    assert isinstance(act, QuantizationSpec) and act.dtype == torch.int8 and act.qscheme == torch.per_tensor_affine
    assert act.observer_or_fake_quant_ctr.p.func is obs.HistogramObserver
    bias = conv.input_qspec_map[nodes["conv_bias"]]
    assert isinstance(bias, DerivedQuantizationSpec)
    assert bias.derived_from == [(nodes["x"], nodes["conv2d"]), (nodes["conv_weight"], nodes["conv2d"])]
    assert bias.derived_from[0][0] is nodes["x"]
    cat = nodes["cat"].meta["quantization_annotation"]
    shared = cat.output_qspec
    assert isinstance(shared, SharedQuantizationSpec) and shared.edge_or_node == (nodes["relu"], nodes["cat"])
    assert shared.edge_or_node[0] is nodes["relu"]
    assert cat.input_qspec_map[nodes["conv2d_1"]] is shared  # equal case specs: one object
    # the same QSpec value everywhere is one object, as a quantizer reusing one config gives
    assert nodes["relu"].meta["quantization_annotation"].output_qspec is act
    lin = nodes["linear"].meta["quantization_annotation"]
    assert isinstance(lin.output_qspec, FixedQParamsQuantizationSpec) and lin.output_qspec.scale == 1.0 / 256
    assert lin.allow_implicit_sharing is False
    assert nodes["conv2d_1"].meta["quantization_annotation"].input_qspec_map[nodes["conv_bias"]] is None
    assert "quantization_annotation" not in nodes["split"].meta


def test_adversarial_references_are_built_faithfully():
    """Keys that are not inputs and targets nobody annotates are kept as they are: prepare must judge them."""
    case = sample_case()
    odd = (
        C.NodeAnnotation("relu", (("y", ACT),), C.SharedSpec(C.NodeRef("split"))),
        C.NodeAnnotation("getitem_2", (), C.SharedSpec(C.EdgeRef("lin_weight", "relu"))),
    )
    gm = build_module(case.graph)
    annotate(gm, odd)
    nodes = {n.name: n for n in gm.graph.nodes}
    relu = nodes["relu"].meta["quantization_annotation"]
    assert list(relu.input_qspec_map) == [nodes["y"]]
    assert relu.output_qspec.edge_or_node is nodes["split"]
    assert nodes["getitem_2"].meta["quantization_annotation"].output_qspec.edge_or_node == (nodes["lin_weight"],
                                                                                           nodes["relu"])


@pytest.mark.parametrize(
    "annotations,match",
    [
        ((C.NodeAnnotation("ghost"),), r"annotations\[0\]: unknown node 'ghost'"),
        ((C.NodeAnnotation("relu", (("ghost", ACT),)),), r"annotation of 'relu': input: unknown node 'ghost'"),
        ((C.NodeAnnotation("relu", output=C.SharedSpec(C.NodeRef("ghost"))),), r"'relu': output: unknown node"),
        ((C.NodeAnnotation("relu", output=C.SharedSpec(C.EdgeRef("x", "ghost"))),), r"unknown node 'ghost'"),
        ((C.NodeAnnotation("relu", output=C.DerivedSpec((C.NodeRef("x"),), "builtins.eval", "int32")),),
         r"'relu': output: unknown derive function 'builtins.eval'"),
        ((C.NodeAnnotation("relu", output=dataclasses.replace(ACT, observer=C.Ctor("os.system"))),),
         r"unknown observer class 'os.system'"),
        ((C.NodeAnnotation("relu", output=dataclasses.replace(ACT, quant_min=5, quant_max=1)),), r"quant_min 5"),
        ((C.NodeAnnotation("relu"), C.NodeAnnotation("relu")), r"'relu': node annotated twice"),
        ((C.NodeAnnotation("relu", (("x", ACT), ("x", None))),), r"input 'x' given twice"),
    ],
)
def test_bad_annotations_raise_build_error(annotations, match):
    gm = build_module(sample_case().graph)
    with pytest.raises(BuildError, match=match):
        annotate(gm, annotations)


# ---- round trips -------------------------------------------------------------------------------


def _graph_and_annotations(case: C.Case):
    return case.graph, case.annotations


def test_round_trip_of_hand_made_case():
    case = sample_case()
    again = extract_case(build(case), info=case.info)
    assert _graph_and_annotations(again) == _graph_and_annotations(case)
    assert again == case
    assert _graph_and_annotations(extract_case(build(again))) == _graph_and_annotations(case)


def test_prepare_and_convert_accept_the_built_module():
    case = sample_case(with_bn=False)
    gm = build(case)
    prepared = prepare(gm, {}, False)
    observers = [m for name, m in prepared.named_modules() if name.startswith("activation_post_process")]
    assert observers, "prepare inserted nothing"
    for _ in range(2):
        prepared(*example_inputs(case.graph, seed=_))
    converted = convert_pt2e(prepared)
    targets = {str(n.target) for n in converted.graph.nodes if n.op == "call_function"}
    assert any("quantize_per_tensor" in t for t in targets)
    outputs = converted(*example_inputs(case.graph))
    expected = next(n for n in build_module(case.graph).graph.nodes if n.name == "clone").meta["val"]
    assert outputs[0].shape == expected.shape


# ---- real models: torch.export + XNNPACKQuantizer ----------------------------------------------


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.conv2 = torch.nn.Conv2d(3, 4, 3)
        self.lin = torch.nn.Linear(6, 5)

    def forward(self, x):
        a = torch.relu(self.conv(x))
        b = self.conv2(x)
        c = torch.cat([a, b], dim=1)
        first, second = torch.split(c, 4, dim=1)
        return self.lin(first + second) + 1.0


def _export(model, inputs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(model.eval(), inputs).module()


def _xnnpack_annotated(is_qat=False, per_channel=False):
    """``_Net`` exported and annotated by XNNPACKQuantizer.

    In QAT mode the quantizer first looks for conv-bn patterns, exporting each pattern (about 6 s); ``_Net``
    has no batch norm, so those annotators are skipped to keep the test fast (they would change nothing).
    """
    torch.manual_seed(0)
    model = _Net()
    inputs = (torch.randn(1, 3, 8, 8),)
    gm = _export(model, inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantizer = XNNPACKQuantizer().set_global(
            get_symmetric_quantization_config(is_qat=is_qat, is_per_channel=per_channel))
    quantizer.STATIC_QAT_ONLY_OPS = []  # instance attribute: the class keeps its list
    quantizer.annotate(gm)
    return gm, inputs


def _layout(gm: torch.fx.GraphModule):
    """Every node with its op, target (observer class for call_module) and args by name."""
    mods = dict(gm.named_modules())
    rows = []
    for n in gm.graph.nodes:
        if n.op == "call_module" and n.target == "_guards_fn":
            continue
        what = (n.target, type(mods[n.target]).__name__) if n.op == "call_module" else str(n.target)
        rows.append((n.name, n.op, what, repr(map_arg(n.args, lambda a: a.name))))
    return rows


@pytest.mark.parametrize("per_channel", [False, True])
def test_xnnpack_case_round_trips_and_prepares_identically(per_channel):
    original, inputs = _xnnpack_annotated(per_channel=per_channel)
    case = extract_case(original)
    assert not any(n.op == "call_module" for n in case.graph.nodes)  # the export guard call is dropped
    assert any(a.output is not None or a.inputs for a in case.annotations)
    rebuilt = build(case)
    assert _graph_and_annotations(extract_case(rebuilt)) == _graph_and_annotations(case)
    # same parameters, then prepare, calibrate and convert both: the same graph and the same numbers
    rebuilt.load_state_dict(original.state_dict())
    prepared_a = prepare(original, {}, False)
    prepared_b = prepare(rebuilt, {}, False)
    assert _layout(prepared_a) == _layout(prepared_b)
    for seed in range(3):
        x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
        prepared_a(x)
        prepared_b(x)
    converted_a = convert_pt2e(prepared_a)
    converted_b = convert_pt2e(prepared_b)
    assert _layout(converted_a) == _layout(converted_b)
    (result_b,) = converted_b(*inputs)
    assert torch.equal(converted_a(*inputs), result_b)


def test_xnnpack_qat_case_round_trips_and_prepares_identically():
    original, _ = _xnnpack_annotated(is_qat=True)
    case = dataclasses.replace(extract_case(original, is_qat=True))
    assert case.is_qat
    rebuilt = build(case)
    assert _graph_and_annotations(extract_case(rebuilt)) == _graph_and_annotations(case)
    prepared_a = prepare(original, {}, True)
    prepared_b = prepare(rebuilt, {}, True)
    assert _layout(prepared_a) == _layout(prepared_b)
    assert any("FakeQuantize" in str(row[2]) for row in _layout(prepared_b))


def test_derived_bias_spec_converts_with_product_scale():
    """A derived int32 bias on a real conv: the converted bias scale is act scale * weight scale."""
    case = sample_case(with_bn=False)
    prepared = prepare(build(case), {}, False)
    for seed in range(2):
        prepared(*example_inputs(case.graph, seed=seed))
    scales = {}
    mods = dict(prepared.named_modules())
    for n in prepared.graph.nodes:
        if n.op == "call_module" and n.args[0].name in ("x", "conv_weight", "conv_bias"):
            scales[n.args[0].name] = mods[n.target].calculate_qparams()[0]
    torch.testing.assert_close(scales["conv_bias"].reshape(()),
                               (scales["x"].reshape(()) * scales["conv_weight"].reshape(())))
    convert_pt2e(prepared)


# ---- extract: constants and unsupported graphs -------------------------------------------------


class _Consts(torch.nn.Module):
    def forward(self, x):
        y = x.to(torch.float32).contiguous(memory_format=torch.channels_last)
        return torch.clone(y, memory_format=torch.contiguous_format) * 2


def test_extract_handles_torch_constants():
    gm = _export(_Consts(), (torch.randn(1, 2, 3, 3),))
    case = extract_case(gm)
    consts = {v for n in case.graph.nodes for _, v in n.kwargs if isinstance(v, C.Const)}
    consts |= {a for n in case.graph.nodes for a in n.args if isinstance(a, C.Const)}
    assert C.Const("memory_format", "contiguous_format") in consts
    assert C.Const("dtype", "float32") in consts
    assert {C.Const("device", "cpu"), C.Const("layout", "strided"), C.Const("memory_format", "channels_last")} <= consts
    rebuilt = build(case)
    check = next(n for n in rebuilt.graph.nodes if n.target is torch.ops.aten._assert_tensor_metadata.default)
    assert check.kwargs["device"] == torch.device("cpu") and check.meta["val"] is None
    assert extract_case(rebuilt) == case
    x = torch.randn(1, 2, 3, 3)
    torch.testing.assert_close(rebuilt(x)[0], gm(x))


class _Sin(torch.nn.Module):
    def forward(self, x):
        return torch.sin(x) + 1


def test_extract_rejects_ops_outside_the_allow_list():
    gm = _export(_Sin(), (torch.randn(2),))
    with pytest.raises(UnsupportedGraph, match=r"node 'sin': op 'aten.sin.default' is not supported"):
        extract_case(gm)


def test_extract_rejects_call_module_nodes():
    class Outer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = torch.nn.ReLU()

        def forward(self, x):
            return self.inner(x)

    gm = torch.fx.symbolic_trace(Outer())
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            n.meta["val"] = fakeval.fake_tensor((2,), torch.float32)
    with pytest.raises(UnsupportedGraph, match=r"node 'inner': call_module 'inner'"):
        extract_case(gm)


def test_extract_rejects_foreign_spec_targets():
    gm = build(sample_case())
    stranger = build(sample_case())
    relu = next(n for n in gm.graph.nodes if n.name == "relu")
    other = next(n for n in stranger.graph.nodes if n.name == "x")
    relu.meta["quantization_annotation"] = QuantizationAnnotation(output_qspec=SharedQuantizationSpec(other))
    with pytest.raises(UnsupportedGraph, match=r"annotation of 'relu': output: refers to x"):
        extract_case(gm)


def test_extract_rejects_unnamed_derive_functions():
    gm = build(sample_case())
    conv = next(n for n in gm.graph.nodes if n.name == "conv2d")
    qa = conv.meta["quantization_annotation"]
    (x, weight, bias) = list(qa.input_qspec_map)
    qa.input_qspec_map[bias] = dataclasses.replace(qa.input_qspec_map[bias], derive_qparams_fn=lambda obs: obs)
    with pytest.raises(UnsupportedGraph, match=r"annotation of 'conv2d': input 'conv_bias': unknown derive function"):
        extract_case(gm)


def test_values_from_meta_kernels_equal_the_fake_mode_s_on_generated_graphs():
    """fakeval runs an op on meta tensors and falls back to the FakeTensorMode: for every op of many generated
    graphs, the shape, stride and dtype it gives (and an in-place result being its input) are the fake mode's."""
    import random

    from harness.strategies import GENERATED_OPS, graphs
    from harness.strategies.fast import fast_example

    def under_fake_mode(fn, args, kwargs):
        with fakeval.fake_mode(), torch.no_grad():
            return fn(*args, **kwargs)

    def same(meta_val, fake_val, inputs, where):
        if isinstance(fake_val, torch.Tensor):
            assert (tuple(meta_val.shape), tuple(meta_val.stride()), meta_val.dtype) == (
                tuple(fake_val.shape), tuple(fake_val.stride()), fake_val.dtype), where
            assert any(meta_val is i for i in inputs) == any(fake_val is i for i in inputs), where
        elif isinstance(fake_val, (list, tuple)):
            assert type(meta_val) is type(fake_val) and len(meta_val) == len(fake_val), where
            for i, (m, f) in enumerate(zip(meta_val, fake_val)):
                same(m, f, inputs, f"{where}[{i}]")
        else:
            assert meta_val == fake_val, where

    # the cache is cleared once: what is learnt of a kind of call on one graph (the meta kernels agree with the fake
    # mode) is trusted on the next ones, for other sizes of the same kind (numbers count by type and sign only)
    fakeval.clear_cache()
    rng, targets = random.Random(2), set()
    for i in range(80):
        gm = build_module(fast_example(graphs(max_nodes=12, ops=GENERATED_OPS if i % 2 else None), rng))
        for n in gm.graph.nodes:
            if n.op != "call_function":
                continue
            args = torch.fx.node.map_arg(n.args, lambda a: a.meta["val"])
            kwargs = torch.fx.node.map_arg(n.kwargs, lambda a: a.meta["val"])
            inputs = [a.meta["val"] for a in n.all_input_nodes]
            same(n.meta["val"], under_fake_mode(n.target, args, kwargs), inputs, f"{n.name} ({n.target})")
            targets.add(str(n.target))
    assert len(targets) > 80  # most of the generated ops were compared
