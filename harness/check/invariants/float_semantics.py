"""Float semantics: with observers passive and fake quants disabled, the prepared model computes what the
original does (both run on deep copies of the example inputs).

Rule: a passive observer or disabled fake quant is the identity, the identity of tensors included. One whose output
equals its input (same shape, dtype and values) is taken to return its input itself: ``FusedMovingAvgObsFakeQuantize``
returns a fresh copy even when disabled, and an in-place write after it (``mul_`` on the observed value, or on a
view of the value's base) would then miss the tensors the original writes, a property of that module, not of the
prepare. An observer that changes values is left as it is, and the outputs differ.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch.fx import GraphModule
from torchao.quantization.pt2e.fake_quantize import disable_fake_quant, disable_observer

from harness.check.invariants.context import CheckContext, Violation
from harness.check.observer_map import is_observer_module, submodule

__all__ = ["check_float_semantics", "float_outputs_match"]


def _flat_outputs(out: Any) -> list[Any]:
    return list(torch.utils._pytree.tree_leaves(out))


def _same_tensor_if_unchanged(module: torch.nn.Module, args: tuple, output: Any) -> Any:
    """Forward hook: ``args[0]`` itself when ``output`` is a copy of it (same shape, dtype, values), else ``output``."""
    x = args[0] if args else None
    if (isinstance(x, torch.Tensor) and isinstance(output, torch.Tensor) and output is not x
            and output.shape == x.shape and output.dtype == x.dtype and output.device == x.device
            and torch.equal(torch.nan_to_num(output), torch.nan_to_num(x))
            and torch.equal(output.isnan(), x.isnan())):
        return x
    return output


def _passive(prepared: GraphModule) -> None:
    """Disable the fake quants and observers of ``prepared`` and make the value-preserving ones hand back their
    input tensor (see the module docstring)."""
    prepared.apply(disable_fake_quant)
    prepared.apply(disable_observer)
    hooked = set()
    for node in prepared.graph.nodes:
        module = submodule(prepared, node.target) if node.op == "call_module" else None
        if module is not None and is_observer_module(module) and id(module) not in hooked:
            hooked.add(id(module))
            module.register_forward_hook(_same_tensor_if_unchanged)


def float_outputs_match(original: GraphModule, prepared: GraphModule, example_inputs: tuple) -> list[str]:
    """Problems (plain words) found running both models in float on ``example_inputs``; [] if they agree.

    Runs deep copies; fake quants (and their observers) are disabled on the prepared copy, and an observer whose
    output is a copy of its input hands back the input itself (the module docstring's rule).
    """
    orig = copy.deepcopy(original)
    prep = copy.deepcopy(prepared)
    _passive(prep)
    with torch.no_grad():
        try:
            expected = _flat_outputs(orig(*copy.deepcopy(example_inputs)))
        except Exception as e:
            return [f"the original model could not run on the example inputs: {type(e).__name__}: {e}"]
        try:
            actual = _flat_outputs(prep(*copy.deepcopy(example_inputs)))
        except Exception as e:
            return [f"the prepared model raised on the example inputs: {type(e).__name__}: {e}"]
    if len(expected) != len(actual):
        return [f"the prepared model returns {len(actual)} values, the original {len(expected)}"]
    problems = []
    for i, (e, a) in enumerate(zip(expected, actual)):
        if isinstance(e, torch.Tensor) != isinstance(a, torch.Tensor):
            problems.append(f"output {i}: one model returns a tensor and the other does not")
        elif isinstance(e, torch.Tensor):
            if e.shape != a.shape or e.dtype != a.dtype:
                problems.append(f"output {i}: shape/dtype {tuple(a.shape)}/{a.dtype}, expected {tuple(e.shape)}/{e.dtype}")
            elif not torch.allclose(e, a, equal_nan=True):
                diff = (e.double() - a.double()).abs().max().item()
                problems.append(f"output {i} differs from the original in float (max abs diff {diff:.3g})")
        elif e != a:
            problems.append(f"output {i}: {a!r}, expected {e!r}")
    return problems


def check_float_semantics(ctx: CheckContext) -> list[Violation]:
    """With observers passive and fake quants disabled, the prepared model computes what the original does."""
    if ctx.example_inputs is None:
        return []
    return [Violation("float_semantics", p) for p in float_outputs_match(ctx.original, ctx.prepared, ctx.example_inputs)]
