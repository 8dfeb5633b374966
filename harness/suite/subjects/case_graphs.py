"""The graph of a case as a quantizer sees it: exported as a module program (the IR ``prepare_pt2e`` receives),
or built as it is when it cannot be exported, with each aten call's arguments spelled as torch.export spells calls
from Python code. Random graphs and saved graphs reach the quantizer this way."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch.fx import GraphModule

from harness import strategies
from harness.fx.build import build_module, example_inputs
from harness.suite.subjects.models import strip_guards

__all__ = ["graph_module_for_quantizer"]


def graph_module_for_quantizer(graph: Any, strict: bool = False) -> GraphModule:
    """The exported module program of a case graph (the IR a quantizer really sees), or the built graph when the
    graph cannot be written as a module program; either with its arguments spelled as torch.export spells calls
    from Python code (:func:`_positional`). ``strict``: export with ``strict=True``."""
    try:
        module = strategies.graph_to_module(graph)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ep = torch.export.export(module, example_inputs(graph), strict=strict)
        try:
            gm = ep.module(check_guards=False)
        except TypeError:
            gm = ep.module()
        return _positional(strip_guards(gm))
    except Exception:  # noqa: BLE001 - fall back to the graph as built
        return _positional(build_module(graph))


def _positional(gm: GraphModule) -> GraphModule:
    """``gm`` with every aten call's arguments positional except keyword-only ones, as torch.export records a call
    from Python code (``torch.reshape(x, shape=(256,))`` becomes ``reshape(x, [256])``). A generated graph may call
    the op overload with a list argument by keyword, which export then keeps as it is; a quantizer reading
    ``node.args[1]`` must not fail for the harness's reason on it (ExecuTorch's QNN quantizer did)."""
    for n in gm.graph.nodes:
        if n.op != "call_function" or not n.kwargs or not isinstance(n.target, torch._ops.OpOverload):
            continue
        schema = n.target._schema.arguments
        given = dict(zip((a.name for a in schema), n.args)) | dict(n.kwargs)
        positional = [a for a in schema if not a.kwarg_only]
        last = max((i for i, a in enumerate(positional) if a.name in given), default=-1)
        if any(a.name not in given and not a.has_default_value() for a in positional[:last + 1]):
            continue  # not a call of this schema: left as it is
        n.args = tuple(given[a.name] if a.name in given else a.default_value for a in positional[:last + 1])
        n.kwargs = {a.name: given[a.name] for a in schema if a.kwarg_only and a.name in given}
    gm.recompile()
    return gm
