"""Float semantics: with observers passive and fake quants disabled, the prepared model computes what the
original does (both run on deep copies of the example inputs).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch.fx import GraphModule
from torchao.quantization.pt2e.fake_quantize import disable_fake_quant, disable_observer

from harness.check.invariants.context import CheckContext, Violation

__all__ = ["check_float_semantics", "float_outputs_match"]


def _flat_outputs(out: Any) -> list[Any]:
    return list(torch.utils._pytree.tree_leaves(out))


def float_outputs_match(original: GraphModule, prepared: GraphModule, example_inputs: tuple) -> list[str]:
    """Problems (plain words) found running both models in float on ``example_inputs``; [] if they agree.

    Runs deep copies; fake quants (and their observers) are disabled on the prepared copy.
    """
    orig = copy.deepcopy(original)
    prep = copy.deepcopy(prepared)
    prep.apply(disable_fake_quant)
    prep.apply(disable_observer)
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
