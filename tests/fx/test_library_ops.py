"""Ops another library registers with torch (harness.case.names.LIBRARY_OPS): allowed in cases, resolved on first
use by importing the module that registers them (a name of the table, never one read from a case)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from harness import case as C
from harness.case import names
from harness.fx import ops
from harness.fx.build import build, extract_case

DIM_ORDER_COPY = "dim_order_ops._to_dim_order_copy.default"


def test_library_ops_are_allowed_names_of_their_own_namespace():
    assert DIM_ORDER_COPY in names.OP_NAMES
    for name, module in names.LIBRARY_OPS.items():
        assert not name.startswith("aten.") and name.count(".") == 2 and module.count(".") >= 1


@pytest.mark.slow  # a new interpreter importing ExecuTorch: about 15 s
def test_a_library_op_resolves_by_importing_its_library_only_when_used():
    pytest.importorskip("executorch", reason="the library op's library (ExecuTorch) is not installed")
    code = ("import sys; from harness.fx import ops; assert 'executorch' not in sys.modules; "
            f"fn = ops.resolve_op({DIM_ORDER_COPY!r}); "
            f"assert {names.LIBRARY_OPS[DIM_ORDER_COPY]!r} in sys.modules; "
            f"assert ops.op_name(fn) == {DIM_ORDER_COPY!r} and ops.op_info({DIM_ORDER_COPY!r}).n_returns == 1")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


@pytest.mark.slow  # imports ExecuTorch: several seconds
def test_a_case_with_a_library_op_builds_and_extracts_back():
    pytest.importorskip("executorch", reason="the library op's library (ExecuTorch) is not installed")
    nodes = (
        C.Node("idx", "placeholder", tensor=C.TensorMeta((2, 3), "int64")),
        C.Node("copy", "call_function", DIM_ORDER_COPY, (C.Ref("idx"),),
               (("dtype", C.Const("dtype", "int32")), ("dim_order", (0, 1)))),
        C.Node("output", "output", args=((C.Ref("copy"),),)),
    )
    case = C.Case(C.Graph(nodes), ())
    gm = build(case)
    node = next(n for n in gm.graph.nodes if n.name == "copy")
    assert node.target is torch.ops.dim_order_ops._to_dim_order_copy.default
    assert node.meta["val"].dtype == torch.int32 and tuple(node.meta["val"].shape) == (2, 3)
    assert extract_case(gm) == case
    out = gm(torch.arange(6).reshape(2, 3))[0]
    assert out.dtype == torch.int32 and out.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_an_op_of_a_library_that_is_not_listed_stays_unknown():
    with pytest.raises(ops.UnknownName, match="unknown op 'dim_order_ops._clone_dim_order.default'"):
        ops.resolve_op("dim_order_ops._clone_dim_order.default")
