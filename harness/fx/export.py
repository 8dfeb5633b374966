"""Exporting a model the way the harness wants it: ``torch.export`` to a GraphModule without the guard call.

The rule: :func:`export_module` gives ``torch.export.export(model, example_inputs, strict=strict).module()`` built
with ``check_guards=False`` (on a torch without that option, plain ``.module()``), minus torch.export's
``_guards_fn`` call when nothing uses it: the call has no effect on prepare, and the harness compares graph
structure before and after annotation.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["GUARDS_FN", "export_module", "strip_guards"]

# the submodule torch.export's .module() calls to check its guards
GUARDS_FN = "_guards_fn"


def strip_guards(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Remove torch.export's unused ``_guards_fn`` call (and its submodule) from ``gm``, in place; return ``gm``."""
    changed = False
    for node in list(gm.graph.nodes):
        if node.op == "call_module" and node.target == GUARDS_FN and not node.users:
            gm.graph.erase_node(node)
            changed = True
    if changed:
        if hasattr(gm, GUARDS_FN):
            delattr(gm, GUARDS_FN)
        gm.recompile()
    return gm


def export_module(model: torch.nn.Module, example_inputs: tuple[Any, ...], *,
                  strict: bool = False) -> torch.fx.GraphModule:
    """``torch.export.export(model, example_inputs, strict=strict).module(check_guards=False)`` without the
    unused ``_guards_fn`` call (``.module()`` on a torch without ``check_guards``)."""
    program = torch.export.export(model, example_inputs, strict=strict)
    try:
        gm = program.module(check_guards=False)
    except TypeError:  # torch without check_guards
        gm = program.module()
    return strip_guards(gm)
