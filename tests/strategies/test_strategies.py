"""Tests of ``harness.strategies``: generated graphs build and match their shape rules, valid annotations are
valid (for the reference and for torchao, up to its known bugs), and everything shrinks to small examples (the
adversarial cases and exported programs: test_adversarial_and_exported.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import prepare_impl
from case_predicates import (
    FAST,
    FIND,
    REACH,
    annotation_order,
    excused,
    op_nodes,
    refs,
    run_torchao,
    shared_cycle,
    spec_map,
)
from fake_meta import fake_meta
from harness.fx import ops
from harness import strategies as S
from harness.fx.build import build, build_module, example_inputs
from harness.case import Case, DerivedSpec, EdgeRef, FixedSpec, NodeRef, QSpec, SharedSpec, TensorMeta

DTYPE_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-(2**15), 2**15 - 1), "int32": (-(2**31), 2**31 - 1)}


# ---- graphs ------------------------------------------------------------------------------------


@FAST
@given(S.graphs())
def test_generated_graphs_build_lint_match_their_shapes_and_run(graph):
    meta = S.infer_meta(graph)
    gm = build_module(graph)
    gm.graph.lint()
    assert [n.name for n in gm.graph.nodes] == [n.name for n in graph.nodes]
    for node in gm.graph.nodes:
        if node.op != "output":
            assert fake_meta(node.meta["val"]) == meta[node.name], node.name
    outputs = gm(*example_inputs(graph))
    (out_refs,) = graph.nodes[-1].args
    assert [fake_meta(o) for o in outputs] == [meta[r.name] for r in out_refs]


@settings(FAST, max_examples=150)
@given(st.integers(1, 6).flatmap(lambda lo: st.tuples(st.just(lo), S.graphs(min_nodes=lo, max_nodes=lo + 6))))
def test_graph_structure(lo_graph):
    lo, graph = lo_graph
    names = [n.name for n in graph.nodes]
    assert len(set(names)) == len(names)
    defined = set()
    for n in graph.nodes:
        assert set(refs((n.args, n.kwargs))) <= defined, n.name  # a DAG in topological order
        defined.add(n.name)
        if n.op == "call_function":
            assert n.target in ops.OPS and (n.target in S.GENERATED_OPS or n.target == "getitem")
            assert not refs(n.kwargs)  # tensor kwargs only when asked
        if n.op == "get_attr":
            assert n.attr_kind in ("parameter", "buffer") and n.target == n.name
    assert 1 <= sum(n.op == "placeholder" for n in graph.nodes) <= 3
    assert graph.nodes[-1].op == "output" and sum(n.op == "output" for n in graph.nodes) == 1
    (outs,) = graph.nodes[-1].args
    assert 1 <= len(outs) <= 3 and len(set(outs)) == len(outs)
    assert lo <= len(op_nodes(graph)) <= lo + 6
    meta = S.infer_meta(graph)
    assert all(len(m.shape) >= 1 and math.prod(m.shape) <= S.MAX_NUMEL for m in meta.values()
               if isinstance(m, TensorMeta))
    for n in graph.nodes:  # multi-output values are only read through getitem
        if isinstance(meta[n.name], tuple):
            assert all(u.target == "getitem" for u in graph.nodes if n.name in refs(u.args))


@settings(FAST, max_examples=30)
@given(S.graphs(ops={"aten.conv2d.default", "aten.max_pool2d.default"}))
def test_graphs_use_only_the_requested_ops(graph):
    assert {n.target for n in op_nodes(graph)} <= {"aten.conv2d.default", "aten.max_pool2d.default"}
    build_module(graph)


def test_graphs_reject_ops_without_generator():
    with pytest.raises(ValueError, match="aten.alias.default"):  # allowed in a case, not drawn
        find(S.graphs(ops={"aten.alias.default"}), lambda g: True, settings=REACH)


@settings(FAST, max_examples=25)
@given(S.graphs(tensor_kwargs=True))
def test_tensor_kwargs_when_asked(graph):
    assert any(refs(n.kwargs) for n in graph.nodes if n.op == "call_function")
    gm = build_module(graph)
    gm.graph.lint()
    gm(*example_inputs(graph))


def _uses(graph, name):
    return sum(refs((n.args, n.kwargs)).count(name) for n in graph.nodes if n.op != "output")


FEATURES = {
    "same node twice in one op": lambda g: any(len(refs(n.args)) != len(set(refs(n.args))) for n in op_nodes(g)),
    "cat of [x, x]": lambda g: any(n.target == "aten.cat.default" and len(set(refs(n.args))) < len(refs(n.args))
                                   for n in g.nodes),
    "split with two getitems": lambda g: any(sum(u.target == "getitem" and refs(u.args) == [n.name]
                                                 for u in g.nodes) >= 2 for n in g.nodes),
    "fan-out": lambda g: any(len({u.name for u in op_nodes(g) if n.name in refs(u.args)}) >= 2
                             for n in g.nodes if n.op == "call_function"),
    "three outputs": lambda g: len(g.nodes[-1].args[0]) == 3,
    "conv with bias": lambda g: any(n.target == "aten.conv2d.default" and len(n.args) > 2 and n.args[2] for n in g.nodes),
    "buffer copy_": lambda g: any(n.target == "aten.copy_.default" for n in g.nodes),
    "buffer add_": lambda g: any(n.target == "aten.add_.Tensor" for n in g.nodes),
    "tied weight": lambda g: any(n.op == "get_attr" and n.attr_kind == "parameter" and _uses(g, n.name) >= 2
                                 for n in g.nodes),
    "view after permute via reshape": lambda g: any(
        n.target == "aten.reshape.default" and g.node(n.args[0].name).target == "aten.permute.default" for n in g.nodes),
    "three placeholders": lambda g: sum(n.op == "placeholder" for n in g.nodes) == 3,
}


# Rare features are looked for among the ops that make them (faster, and exercises ``ops=``).
FEATURE_OPS = {
    "view after permute via reshape": {"aten.permute.default", "aten.reshape.default", "aten.relu.default"},
    "tied weight": {"aten.linear.default", "aten.conv2d.default", "aten.relu.default"},
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_graph_features_are_generated(feature):
    graph = find(S.graphs(ops=FEATURE_OPS.get(feature)), FEATURES[feature], settings=REACH)
    build_module(graph)


@pytest.mark.parametrize("target", [pytest.param("aten.cat.default", marks=pytest.mark.slow),
                                    pytest.param("aten.split.Tensor", marks=pytest.mark.slow),
                                    "aten.conv2d.default", "aten.linear.default"])
def test_shrinks_to_a_small_graph(target):
    graph = find(S.graphs(), lambda g: any(n.target == target for n in g.nodes), settings=FIND)
    # placeholder(s), the op (plus getitem / weight), output
    assert len([n for n in graph.nodes if n.op != "get_attr"]) <= 4, graph
    assert len(op_nodes(graph)) == 1


@pytest.mark.slow
def test_shrinks_towards_distinct_operands_and_few_nodes():
    graph = find(S.graphs(ops={"aten.relu.default", "aten.add.Tensor", "aten.cat.default"}), FEATURES["fan-out"],
                 settings=FIND)
    assert len(op_nodes(graph)) <= 3, graph
    graph = find(S.graphs(), FEATURES["split with two getitems"], settings=FIND)
    assert len(op_nodes(graph)) == 1, graph


# ---- valid annotations -------------------------------------------------------------------------


def check_valid_structure(case: Case, earlier: bool) -> None:
    meta = S.infer_meta(case.graph)
    specs = spec_map(case)
    order = {k: i for i, k in enumerate(annotation_order(case))}
    assert len({a.node for a in case.annotations}) == len(case.annotations)
    for a in case.annotations:
        node = case.graph.node(a.node)
        assert node.op in ("call_function", "output", "placeholder", "get_attr") and not refs(node.kwargs)
        positional = refs(node.args)
        assert [arg for arg, _ in a.inputs] == [r for r in dict.fromkeys(positional) if r in dict(a.inputs)]
        for arg, _ in a.inputs:
            assert S.is_float(meta[arg])  # never the split list (a getitem's input), never a bool
        if a.output is not None:
            value = meta[a.node]
            assert node.op != "output"
            # a float tensor, or the list of a multi-output node holding one (never a bool, never indices only)
            assert S.is_float(value) or (isinstance(value, tuple) and any(S.is_float(v) for v in value))
    for key, spec in specs.items():
        if isinstance(spec, SharedSpec):
            assert spec.target in specs and spec.target != key
            if earlier:
                assert order[spec.target] < order[key]
        elif isinstance(spec, DerivedSpec):
            assert all(t in specs and order[t] < order[key] for t in spec.derived_from)
        lo, hi = DTYPE_RANGE[spec.dtype] if not isinstance(spec, SharedSpec) else (None, None)
        if isinstance(spec, (QSpec, DerivedSpec, FixedSpec)) and spec.quant_min is not None:
            assert lo <= spec.quant_min < 0 <= spec.quant_max <= hi or spec.quant_min == 0 < spec.quant_max <= hi
            assert spec.qscheme is not None
        if isinstance(spec, QSpec) and spec.qscheme.startswith("per_channel"):
            value = meta[key.arg] if isinstance(key, EdgeRef) else meta[key.name]
            assert isinstance(key, EdgeRef) or case.graph.node(key.name).op == "get_attr"
            assert 0 <= spec.ch_axis < len(value.shape)
            kw = dict(spec.observer.kwargs)
            assert "PerChannel" in spec.observer.qualname or "PerChannel" in kw["observer"].qualname
            assert "PerChannel" in spec.observer.qualname or kw["ch_axis"] == spec.ch_axis
        if isinstance(spec, QSpec):
            assert spec.observer.qualname in ops.CTORS
            assert ("fake_quantize" in spec.observer.qualname) <= case.is_qat
        if isinstance(spec, DerivedSpec):
            assert spec.derive_fn in ops.DERIVE_FNS
    assert shared_cycle(case) is None


@FAST
@given(S.cases(sharing_order="earlier"))
def test_valid_earlier_anchored_annotations_are_well_formed(case):
    check_valid_structure(case, earlier=True)
    assert not S.later_anchored_shares(case)


@FAST
@given(S.cases(sharing_order="any"))
def test_valid_annotations_are_well_formed(case):
    check_valid_structure(case, earlier=False)


@pytest.mark.slow
@FAST
@given(S.cases())
def test_reference_prepare_accepts_valid_annotations(case):
    model = prepare_impl.prepare(build(case), {}, case.is_qat)
    model.graph.lint()
    model(*example_inputs(case.graph))


@pytest.mark.slow
@settings(FAST, max_examples=60)
@given(S.cases(sharing_order="earlier"))
def test_torchao_accepts_valid_earlier_anchored_annotations(case):
    model, error = run_torchao(case)
    if error is not None:
        assert excused(case, error), f"torchao rejected a valid case: {type(error).__name__}: {error}"
        assert isinstance(error, RecursionError)  # ao#4421 cannot happen with earlier anchors
        return
    model(*example_inputs(case.graph))


@pytest.mark.slow
@settings(FAST, max_examples=60)
@given(S.cases(sharing_order="any"))
def test_torchao_accepts_valid_annotations_up_to_known_bugs(case):
    model, error = run_torchao(case)
    if error is not None:
        assert excused(case, error), f"torchao rejected a valid case: {type(error).__name__}: {error}"
        if isinstance(error, AssertionError):
            assert S.later_anchored_shares(case)
        return
    model(*example_inputs(case.graph))


def _specs(case):
    return list(spec_map(case).items())


ANNOTATION_FEATURES = {
    "derived bias": lambda c: any(isinstance(s, DerivedSpec) for _, s in _specs(c)),
    "per-channel derived bias": lambda c: any(isinstance(s, DerivedSpec) and s.ch_axis == 0 for _, s in _specs(c)),
    "fixed qparams": lambda c: any(isinstance(s, FixedSpec) for _, s in _specs(c)),
    "per-channel weight": lambda c: any(isinstance(s, QSpec) and s.qscheme == "per_channel_symmetric"
                                        for _, s in _specs(c)),
    "per-channel weight, ch_axis 1": lambda c: any(isinstance(s, QSpec) and s.ch_axis == 1 for _, s in _specs(c)),
    "shared to an edge": lambda c: any(isinstance(s, SharedSpec) and isinstance(s.target, EdgeRef)
                                       for _, s in _specs(c)),
    "shared to an output": lambda c: any(isinstance(s, SharedSpec) and isinstance(s.target, NodeRef)
                                         for _, s in _specs(c)),
    "chain of sharing": lambda c: any(isinstance(s, SharedSpec) and isinstance(spec_map(c)[s.target], SharedSpec)
                                      for _, s in _specs(c)),
    "tree of sharing": lambda c: any(sum(isinstance(s, SharedSpec) and s.target == t for _, s in _specs(c)) >= 2
                                     for t in spec_map(c)),
    "later anchor": lambda c: bool(S.later_anchored_shares(c)),
    "no implicit sharing": lambda c: any(not a.allow_implicit_sharing and a.inputs for a in c.annotations),
    "explicit None input": lambda c: any(s is None for a in c.annotations for _, s in a.inputs),
    "output only": lambda c: any(a.output is not None and not a.inputs for a in c.annotations),
    "int16": lambda c: any(getattr(s, "dtype", "") == "int16" for _, s in _specs(c)),
    "int8 restricted": lambda c: any(isinstance(s, QSpec) and s.dtype == "int8" and s.quant_min == -127
                                      for _, s in _specs(c)),
    "histogram observer": lambda c: any(isinstance(s, QSpec) and "Histogram" in s.observer.qualname
                                        for _, s in _specs(c)),
    "fake quant (QAT)": lambda c: c.is_qat and any(isinstance(s, QSpec) and "FakeQuantize" in s.observer.qualname
                                                   for _, s in _specs(c)),
    "dynamic": lambda c: any(isinstance(s, QSpec) and s.is_dynamic for _, s in _specs(c)),
    "unannotated op": lambda c: len(c.annotations) < len(op_nodes(c.graph)) and c.annotations,
}


WEIGHTED = {"aten.conv2d.default", "aten.linear.default", "aten.relu.default"}
ANNOTATION_FEATURE_OPS = {"per-channel weight, ch_axis 1": WEIGHTED, "per-channel derived bias": WEIGHTED,
                          "derived bias": WEIGHTED, "per-channel weight": WEIGHTED,
                          "fixed qparams": {"aten.sigmoid.default", "aten.softmax.int", "aten.relu.default"}}


@pytest.mark.parametrize("feature", [pytest.param(f, marks=pytest.mark.slow) if f == "tree of sharing" else f
                                     for f in sorted(ANNOTATION_FEATURES)])
def test_annotation_features_are_generated(feature):
    case = find(S.cases(ops=ANNOTATION_FEATURE_OPS.get(feature)), ANNOTATION_FEATURES[feature], settings=REACH)
    check_valid_structure(case, earlier=False)
    prepare_impl.prepare(build(case), {}, case.is_qat)


def test_sharing_order_is_validated():
    g = find(S.graphs(), lambda g: True, settings=REACH)
    with pytest.raises(ValueError, match="sharing_order"):
        S.annotations(g, sharing_order="later")
    with pytest.raises(ValueError, match="mode"):
        S.annotations(g, mode="weird")
