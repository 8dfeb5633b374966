"""The IR and annotation shapes the strategies draw beyond the basics (issue 9): each is generated, builds, and
the reference prepares valid cases holding it; constants build as plain tensor attributes."""

from __future__ import annotations

import sys

import pytest
import torch
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import NoSuchExample

import prepare_impl
from harness import strategies as S
from harness.case import Case, Ctor, Graph, Node, NodeAnnotation, NodeRef, QSpec, Ref, TensorMeta, walks
from harness.fx.build import FROM_NODE_KEY, build, build_module, example_inputs

REACH = settings(max_examples=3000, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
                 suppress_health_check=list(HealthCheck))
GRAPHS = sys.modules["harness.strategies.graphs"]  # the package attribute ``graphs`` is the strategy
MULTI = ("aten.unbind.int", "aten.chunk.default", "aten.split_with_sizes.default", "aten.topk.default",
         "aten.max.dim")


def _calls(graph: Graph, target: str) -> list[Node]:
    return [n for n in graph.nodes if n.op == "call_function" and n.target == target]


def _built_and_run(graph: Graph) -> None:
    gm = build_module(graph)
    gm.graph.lint()
    gm(*example_inputs(graph))


@pytest.mark.parametrize("target", MULTI)
def test_multi_output_ops_have_getitem_users(target):
    graph = find(S.graphs(ops={target, "aten.relu.default"}), lambda g: bool(_calls(g, target)), settings=REACH)
    meta = S.infer_meta(graph)
    for node in _calls(graph, target):
        assert isinstance(meta[node.name], tuple)
        users = [n for n in graph.nodes if Ref(node.name) in n.args]
        assert users and all(u.target == "getitem" for u in users)
    _built_and_run(graph)


def _inplace_on_activation(g: Graph) -> bool:
    used = {r for n in g.nodes for r in walks.refs((n.args, n.kwargs))}
    return any(n.target in ("aten.relu_.default", "aten.mul_.Tensor") and g.node(n.args[0].name).op != "get_attr"
               and n.name in used for n in g.nodes)


GRAPH_FEATURES = {
    "in-place op on an activation, its value consumed": _inplace_on_activation,
    "list argument by keyword": lambda g: any(isinstance(v, tuple) and not list(walks.refs(v))
                                              for n in g.nodes for _, v in n.kwargs),
    "int argument by keyword": lambda g: any(k == "dim" and isinstance(v, int) for n in g.nodes for k, v in n.kwargs),
}


@pytest.mark.parametrize("feature", sorted(GRAPH_FEATURES))
def test_graph_features_are_generated(feature):
    _built_and_run(find(S.graphs(), GRAPH_FEATURES[feature], settings=REACH))


def test_tensors_nested_in_a_list_kwarg():
    graph = find(S.graphs(ops={"aten.cat.default", "aten.stack.default"}, tensor_kwargs=True),
                 lambda g: any(k == "tensors" for n in g.nodes for k, _ in n.kwargs), settings=REACH)
    node = next(n for n in graph.nodes if any(k == "tensors" for k, _ in n.kwargs))
    assert not node.args and walks.has_tensor_kwarg(node)
    _built_and_run(graph)


@pytest.mark.slow
def test_no_variants_keeps_to_exported_spelling():
    def spelled_otherwise(g: Graph) -> bool:
        return any(k != "alpha" for n in g.nodes for k, _ in n.kwargs) or any(
            n.op == "get_attr" and n.attr_kind == "constant" for n in g.nodes)

    with pytest.raises(NoSuchExample):
        find(S.graphs(ops=S.EXPORTABLE_OPS, variants=False), spelled_otherwise, settings=REACH)


def _annotated(case: Case, pred) -> bool:
    return any(pred(case.graph.node(a.node), a) for a in case.annotations)


def _is_multi(case: Case, name: str) -> bool:
    return isinstance(S.infer_meta(case.graph)[name], tuple)


ANNOTATION_FEATURES = {
    "multi-output node's own output": lambda c: _annotated(c, lambda n, a: a.output is not None
                                                           and _is_multi(c, n.name)),
    "getitem output shares with the multi-output node": lambda c: any(
        a.output is not None and getattr(a.output, "target", None) == NodeRef(b.node)
        for a in c.annotations for b in c.annotations if b.output is not None and _is_multi(c, b.node)),
    "graph output node": lambda c: _annotated(c, lambda n, a: n.op == "output" and any(s for _, s in a.inputs)),
    "placeholder output": lambda c: _annotated(c, lambda n, a: n.op == "placeholder" and a.output is not None),
    "attribute output": lambda c: _annotated(c, lambda n, a: n.op == "get_attr" and a.output is not None),
    "edge of an in-place op on an activation": lambda c: _annotated(
        c, lambda n, a: n.target in ("aten.relu_.default", "aten.mul_.Tensor", "aten.add_.Tensor")
        and any(arg == n.args[0].name and s is not None for arg, s in a.inputs)
        and c.graph.node(n.args[0].name).op != "get_attr"),
    "annotated node with a list kwarg": lambda c: _annotated(
        c, lambda n, a: any(isinstance(v, tuple) for _, v in n.kwargs)),
    "implicit sharing off": lambda c: _annotated(c, lambda n, a: not a.allow_implicit_sharing and a.inputs),
}


@pytest.mark.slow
@pytest.mark.parametrize("feature", sorted(ANNOTATION_FEATURES))
def test_annotation_features_are_generated_and_prepared(feature):
    case = find(S.cases(), ANNOTATION_FEATURES[feature], settings=REACH)
    model = prepare_impl.prepare(build(case), {}, case.is_qat)
    model.graph.lint()
    model(*example_inputs(case.graph))


def test_not_an_input_key_may_carry_none():
    case = find(S.cases(mode="adversarial"), lambda c: c.info.tags[-1] == "not_an_input" and any(
        s is None and arg not in {r for r in walks.refs(c.graph.node(a.node).args)}
        for a in c.annotations for arg, s in a.inputs), settings=REACH)
    with pytest.raises(prepare_impl.NotAnInputError):
        prepare_impl.prepare(build(case), {}, case.is_qat)


def test_constants_build_as_plain_attributes_and_are_drawn_when_stored(monkeypatch):
    const = Node("c", "get_attr", "sub.c", tensor=TensorMeta((2, 8)), attr_kind="constant")
    graph = Graph((const, Node("x", "placeholder", tensor=TensorMeta((2, 8))),
                   Node("mul_", "call_function", "aten.mul_.Tensor", (Ref("c"), Ref("x"))),
                   Node("output", "output", args=((Ref("x"),),))))
    gm = build_module(graph)
    assert isinstance(gm.sub.c, torch.Tensor) and not isinstance(gm.sub.c, torch.nn.Parameter)
    assert "sub.c" not in dict(gm.named_buffers()) and "sub.c" not in dict(gm.named_parameters())
    nodes = {n.name: n for n in gm.graph.nodes}
    assert FROM_NODE_KEY in nodes["mul_"].meta and FROM_NODE_KEY not in nodes["x"].meta
    # an in-place write to a constant is not a buffer update: the reference observes it
    spec = QSpec("int8", Ctor("torchao.quantization.pt2e.observer.MinMaxObserver"), -128, 127, "per_tensor_affine")
    prepared = prepare_impl.prepare(build(Case(graph, (NodeAnnotation("mul_", (("c", spec),)),))), {}, False)
    assert any(n.op == "call_module" and n.args[0].name == "c" for n in prepared.graph.nodes)
    monkeypatch.setattr(GRAPHS, "codec_keeps_constants", lambda: True)
    drawn = find(S.graphs(), lambda g: any(n.op == "get_attr" and n.attr_kind == "constant" for n in g.nodes),
                 settings=REACH)
    _built_and_run(drawn)
