"""Cases of a failure torchao masks (``harness.check.masked``), for ``tests/check/test_masked.py`` and
``tests/fuzz/test_masked_findings.py``."""

from __future__ import annotations

from harness.case import (Case, Ctor, EdgeRef, FixedSpec, Graph, Node, NodeAnnotation, NodeRef, QSpec, Ref, SharedSpec,
                          TensorMeta)

MASKED_BY_A_LOOP = "harness.mutants:upstream_partner_spec_not_unwrapped"  # does not recurse where torchao does
MERGES_WRONGLY = "harness.mutants:upstream_missing_attr_compatible"
I8 = QSpec("int8", Ctor("torchao.quantization.pt2e.observer.MinMaxObserver"), -128, 127, "per_tensor_affine")
T = TensorMeta((1, 4, 8, 8))
HISTOGRAM = QSpec("uint8", Ctor("torchao.quantization.pt2e.observer.HistogramObserver"), 0, 255, "per_tensor_affine")
FIXED = FixedSpec("uint8", 1.0 / 256, 0, 0, 255, "per_tensor_affine")


def relu(name: str, arg: str) -> Node:
    return Node(name, "call_function", "aten.relu.default", (Ref(arg),))


def looping_and_lenient() -> Case:
    """A campaign's finding against ``MASKED_BY_A_LOOP``: a chain of shared specs through a buffer's in-place copy,
    on which torchao's grouping recurses, and an ``input_qspec_map`` entry of ``conv2d`` naming ``topk``, which is
    not its input (torchao is lenient about that, ``ao-lenient-not-an-input``)."""
    nodes = (Node("buf", "get_attr", "buf", tensor=T, attr_kind="buffer"), Node("y", "placeholder", tensor=T),
             relu("max_pool2d", "y"), relu("topk", "y"),
             Node("copy_", "call_function", "aten.copy_.default", (Ref("buf"), Ref("y"))),
             relu("conv2d", "max_pool2d"), Node("output", "output", args=((Ref("topk"),),)))
    annotations = (
        NodeAnnotation("max_pool2d", (("y", I8),)),
        NodeAnnotation("topk", (("y", SharedSpec(EdgeRef("y", "max_pool2d"))),), SharedSpec(EdgeRef("y", "topk"))),
        NodeAnnotation("copy_", (("buf", SharedSpec(NodeRef("topk"))), ("y", SharedSpec(EdgeRef("buf", "copy_"))))),
        NodeAnnotation("conv2d", (("topk", None),)),
    )
    return Case(graph=Graph(nodes), annotations=annotations)


def fixed_output_with_edge_from(edge_from: str) -> Case:
    """``sigmoid = relu(x)`` whose input edge from ``edge_from`` asks for a histogram observer and whose output is
    fixed: with ``edge_from="sigmoid"`` the entry names a node that is not an input (torchao is lenient), and
    ``MERGES_WRONGLY`` joins it to the output's group."""
    return Case(graph=Graph((Node("x", "placeholder", tensor=T), relu("sigmoid", "x"),
                             Node("output", "output", args=((Ref("sigmoid"),),)))),
                annotations=(NodeAnnotation("sigmoid", ((edge_from, HISTOGRAM),), FIXED),))
