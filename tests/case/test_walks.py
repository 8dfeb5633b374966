"""harness.case.walks: the walks over nested node arguments visit every reference, in argument order, with repeats."""

from __future__ import annotations

from harness.case import Const, Graph, Node, Ref, TensorMeta
from harness.case.walks import has_tensor_kwarg, inputs_of, map_refs, refs, users_of

X = Node("x", "placeholder", tensor=TensorMeta((2, 3)))
Y = Node("y", "placeholder", tensor=TensorMeta((2, 3)))
CAT = Node("cat", "call_function", "aten.cat.default", ((Ref("x"), Ref("y"), Ref("x")), 1))
ADD = Node("add", "call_function", "aten.add.Tensor", (Ref("cat"),), (("other", Ref("y")), ("alpha", 2)))
CAST = Node("cast", "call_function", "aten._to_copy.default", (Ref("add"),), (("dtype", Const("dtype", "float32")),))
OUT = Node("output", "output", "", ((Ref("cast"), Ref("cat")),))
GRAPH = Graph((X, Y, CAT, ADD, CAST, OUT))


def test_refs_are_depth_first_in_order_with_repeats_and_skip_constants_and_kwarg_names():
    assert list(refs(CAT.args)) == ["x", "y", "x"]
    assert list(refs((Ref("a"), ((Ref("b"),), 3, "a"), Const("dtype", "a")))) == ["a", "b"]
    assert inputs_of(ADD) == ["cat", "y"] and inputs_of(CAST) == ["add"] and inputs_of(X) == []


def test_users_follow_graph_order_with_repeats_and_ignore_unknown_names():
    assert users_of(GRAPH) == {"x": ["cat", "cat"], "y": ["cat", "add"], "cat": ["add", "output"], "add": ["cast"],
                               "cast": ["output"], "output": []}
    assert users_of(Graph((Node("n", "call_function", "aten.relu.default", (Ref("gone"),)),))) == {"n": []}


def test_a_tensor_kwarg_is_a_reference_among_the_keyword_values():
    assert has_tensor_kwarg(ADD) and not has_tensor_kwarg(CAST) and not has_tensor_kwarg(CAT)


def test_map_refs_renames_every_reference_and_keeps_the_nesting():
    renamed = map_refs(CAT.args, lambda n: n.upper())
    assert renamed == ((Ref("X"), Ref("Y"), Ref("X")), 1)
    assert map_refs(ADD.kwargs, {"y": "z"}.get) == (("other", Ref("z")), ("alpha", 2))
