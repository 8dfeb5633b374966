"""Tests of ``harness.strategies``' adversarial cases (each carries the defect it claims and gets its typed error) and
of its exported programs (they build, prepare, and compute what the graph computes)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import find, given, settings
from hypothesis import strategies as st

import prepare_impl
from case_predicates import CHECK_KIND, FAST, REACH, SLOW, excused, run_torchao, shared_edge_on_cycle
from harness import strategies as S
from harness.case import Case, EdgeRef, Graph, Node, NodeAnnotation, NodeRef, QSpec, Ref, SharedSpec, TensorMeta
from harness.fx.build import build, build_module, example_inputs


# ---- adversarial annotations -------------------------------------------------------------------


@FAST
@given(S.adversarial_cases())
def test_adversarial_cases_carry_their_defect_and_get_its_error(case_kind):
    case, kind = case_kind
    assert kind in S.ADVERSARIAL_KINDS and case.expected.error == S.ERROR_FOR_KIND[kind]
    assert kind in case.info.tags
    assert CHECK_KIND[kind](case), kind
    error_class = getattr(prepare_impl, S.ERROR_FOR_KIND[kind])
    with pytest.raises(error_class):
        prepare_impl.prepare(build(case), {}, case.is_qat)


@pytest.mark.parametrize("kind", S.ADVERSARIAL_KINDS)
def test_every_adversarial_kind_can_be_asked_for(kind):
    @settings(FAST, max_examples=8)
    @given(S.adversarial_cases(kinds=(kind,)))
    def check(case_kind):
        case, got = case_kind
        assert got == kind and CHECK_KIND[kind](case)
        with pytest.raises(getattr(prepare_impl, S.ERROR_FOR_KIND[kind])):
            prepare_impl.prepare(build(case), {}, case.is_qat)

    check()


@settings(FAST, max_examples=20)
@given(S.graphs().flatmap(lambda g: st.tuples(st.just(g), S.annotations(g, mode="adversarial"))))
def test_adversarial_mode_of_annotations_is_rejected_by_the_reference(graph_anns):
    graph, anns = graph_anns
    with pytest.raises(prepare_impl.AnnotationError):
        prepare_impl.prepare(build(Case(graph, anns)), {}, False)


def test_adversarial_kinds_are_validated():
    with pytest.raises(ValueError, match="unknown adversarial kinds"):
        find(S.adversarial_cases(kinds=("bogus",)), lambda c: True, settings=REACH)


# ---- exported programs -------------------------------------------------------------------------


@settings(SLOW, max_examples=8)
@given(S.exported_cases(max_nodes=5))
def test_exported_cases_build_and_prepare(case):
    assert all(n.op in ("placeholder", "get_attr", "call_function", "output") for n in case.graph.nodes)
    gm = build_module(case.graph)
    gm.graph.lint()
    prepare_impl.prepare(build(case), {}, case.is_qat)(*example_inputs(case.graph))
    _, error = run_torchao(case)
    assert error is None or excused(case, error), f"{type(error).__name__}: {error}"


@settings(SLOW, max_examples=6)
@given(S.graphs(max_nodes=5, ops=S.EXPORTABLE_OPS, variants=False))
def test_module_program_computes_the_graph(graph):
    """The module program (what gets exported) computes the same values as the graph built directly."""
    module = S.graph_to_module(graph)
    inputs = example_inputs(graph)
    expected = build_module(graph)(*inputs)
    got = module(*example_inputs(graph))
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)


def test_export_is_cached():
    graph = find(S.graphs(ops={"aten.linear.default"}), lambda g: True, settings=REACH)
    first = S.export_graph(graph)
    assert S.export_graph(graph) is first
    exported, meta = first
    assert any(n.op == "get_attr" and n.target.endswith(".weight") for n in exported.nodes)  # nn.Linear submodule
    assert dict(meta)[next(n.name for n in exported.nodes if n.target == "aten.linear.default")] is not None


@settings(SLOW, max_examples=5)
@given(S.exported_cases(mode="adversarial", max_nodes=4))
def test_adversarial_exported_cases(case):
    kind = case.info.tags[-1]
    assert CHECK_KIND[kind](case)
    with pytest.raises(getattr(prepare_impl, case.expected.error)):
        prepare_impl.prepare(build(case), {}, case.is_qat)


def test_shared_edge_on_cycle_recognizes_the_recursion_pattern():
    a = QSpec("int8", S.OBS["MinMaxObserver"], -128, 127, "per_tensor_affine")
    x = Node("x", "placeholder", tensor=TensorMeta((2, 8)))
    relus = [Node(f"r{i}", "call_function", "aten.relu.default", (Ref("x"),)) for i in range(3)]
    graph = Graph((x, *relus, Node("output", "output", args=(tuple(Ref(r.name) for r in relus),))))

    def case(*anns):
        return Case(graph, tuple(anns))

    # r2's input shares with r0's, and r0's and r1's inputs are implicitly shared siblings: a cycle
    assert shared_edge_on_cycle(case(NodeAnnotation("r0", (("x", a),)), NodeAnnotation("r1", (("x", a),)),
                                     NodeAnnotation("r2", (("x", SharedSpec(EdgeRef("x", "r0"))),))))
    # the same through r0's output
    assert shared_edge_on_cycle(case(NodeAnnotation("r0", (("x", a),), SharedSpec(EdgeRef("x", "r0"))),
                                     NodeAnnotation("r1", (("x", SharedSpec(NodeRef("r0"))),))))
    # no implicit sharing on the target's node: the reference is the only link
    assert not shared_edge_on_cycle(case(NodeAnnotation("r0", (("x", a),), allow_implicit_sharing=False),
                                         NodeAnnotation("r2", (("x", SharedSpec(EdgeRef("x", "r0"))),),
                                                        allow_implicit_sharing=False)))
    # a plain chain of outputs: no cycle
    assert not shared_edge_on_cycle(case(NodeAnnotation("r0", (), a), NodeAnnotation("r1", (), SharedSpec(NodeRef("r0")))))


def test_a_value_that_split_took_apart_is_not_written_in_place():
    """Seen in CI: ``add_(add, add)`` after ``split(add)``, then a piece of the split read: autograd refuses
    ("Output 1 of Split is a view and its base ... has been modified inplace"). Nor may a view of it be written."""
    from harness.case import Ref, TensorMeta
    from harness.strategies.graph_state import GraphState, Val

    s = GraphState(draw=None, tensor_kwargs=False, vals=[Val("x", TensorMeta((2, 8)), True)],
                   meta={"x": TensorMeta((2, 8))})
    add = s.emit("aten.add.Tensor", (Ref("x"), Ref("x")))
    view = s.emit("aten.view.default", (Ref(add), [16]))
    other = s.emit("aten.relu.default", (Ref("x"),))
    val = {v.name: v for v in s.vals}
    assert s.writable(val[add]) and s.writable(val[view])
    s.emit("aten.split.Tensor", (Ref(view), 8), operand=False)
    val = {v.name: v for v in s.vals}
    assert not s.writable(val[add]) and not s.writable(val[view])
    assert s.writable(val[other])
