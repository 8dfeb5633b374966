"""Numerics of two prepared models: calibrate both the same way, ``convert_pt2e`` them and compare the outputs.

Rule: the same calibration batches go through deep copies of both prepared models; the converted models then run
on ``example_inputs``. Outputs differing beyond ``allclose`` give a ``numerics`` divergence with the largest
absolute difference; calibrating, converting or running failing on one side only gives ``convert_failed`` (both
failing is no divergence here: the canonical-form comparison of :mod:`harness.check.compare` reports errors).
"""

from __future__ import annotations

import copy
from typing import Any, Optional, Sequence

import torch
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

from harness.check.compare import Divergence

__all__ = ["compare_numerics"]


def _run_converted(prepared: Any, calibration: Sequence[tuple], example_inputs: tuple) -> list[Any]:
    """Calibrate a deep copy of ``prepared``, convert it and return its flattened outputs on ``example_inputs``."""
    model = copy.deepcopy(prepared)
    with torch.no_grad():
        for batch in calibration:
            model(*copy.deepcopy(batch))
        converted = convert_pt2e(model)
        out = converted(*copy.deepcopy(example_inputs))
    return list(torch.utils._pytree.tree_leaves(out))


def compare_numerics(
    ref_prepared: Any,
    cand_prepared: Any,
    example_inputs: tuple,
    calibration: Optional[Sequence[tuple]] = None,
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> list[Divergence]:
    """Calibrate deep copies of both prepared models with the same inputs, ``convert_pt2e`` them and
    compare their outputs on ``example_inputs``.

    ``calibration`` is a list of argument tuples (default: ``[example_inputs]``). Reports ``numerics``
    with the largest absolute difference, or ``convert_failed`` when calibrating, converting or running
    the converted model raises on one side only (both failing is no divergence here).
    """
    calibration = [example_inputs] if calibration is None else list(calibration)
    results: list[Any] = []
    for model in (ref_prepared, cand_prepared):
        try:
            results.append(_run_converted(model, calibration, example_inputs))
        except Exception as e:
            results.append(e)
    ref, cand = results
    if isinstance(ref, Exception) or isinstance(cand, Exception):
        if isinstance(ref, Exception) and isinstance(cand, Exception):
            return []
        side, err = ("candidate", cand) if isinstance(cand, Exception) else ("reference", ref)
        msg = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
        return [Divergence("convert_failed", f"{side}: {type(err).__name__}: {msg}", f"{side}:{type(err).__name__}")]
    if len(ref) != len(cand):
        return [Divergence("numerics", f"converted models return {len(ref)} vs {len(cand)} values", "arity")]
    worst, where = 0.0, None
    for i, (r, c) in enumerate(zip(ref, cand)):
        if not (isinstance(r, torch.Tensor) and isinstance(c, torch.Tensor)):
            if r != c:
                return [Divergence("numerics", f"output {i}: {r!r} vs {c!r}", "value")]
            continue
        if r.shape != c.shape:
            return [Divergence("numerics", f"output {i}: shape {tuple(r.shape)} vs {tuple(c.shape)}", "shape")]
        if torch.allclose(r.float(), c.float(), atol=atol, rtol=rtol, equal_nan=True):
            continue
        d = (r.double() - c.double()).abs().nan_to_num(nan=float("inf")).max().item()
        if where is None or d > worst:
            worst, where = d, i
    if where is None:
        return []
    return [Divergence("numerics", f"converted outputs differ: max abs diff {worst:.3g} (output {where})", "allclose")]
