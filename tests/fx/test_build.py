"""harness.fx.build / harness.fx.extract / harness.fx.fakeval: cases to GraphModules and back (the hand-made case;
real exported models are tests/fx/test_extract_real_models.py)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensor

from harness import case as C
from harness.fx import fakeval
from harness.case import names
from harness.fx import ops
from harness.fx.build import BuildError, annotate, build, build_module, example_inputs, extract_case
from torchao.quantization.pt2e import observer as obs
from torchao.quantization.pt2e.prepare import prepare
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationAnnotation,
    QuantizationSpec,
    SharedQuantizationSpec,
)

from build_samples import ACT, R, _graph_and_annotations, attr, call, out, ph, sample_case


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
