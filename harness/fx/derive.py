"""Derive functions for ``DerivedQuantizationSpec`` that cases may name (allow-listed in ``harness.fx.ops``).

A derive function receives the list of observers / fake quants of the spec's ``derived_from`` targets, in
order, and returns ``(scale, zero_point)``. Both functions here compute the usual bias quantization
parameters: ``scale = activation scale * weight scale`` and a zero point of 0 (int32).
"""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["bias_qparams_per_tensor", "bias_qparams_per_channel"]


def _two_scales(obs_or_fqs: Sequence[torch.nn.Module]) -> tuple[torch.Tensor, torch.Tensor]:
    if len(obs_or_fqs) != 2:
        raise ValueError(f"a bias derive function needs [activation, weight] observers, got {len(obs_or_fqs)}")
    act_scale, _ = obs_or_fqs[0].calculate_qparams()
    weight_scale, _ = obs_or_fqs[1].calculate_qparams()
    return torch.as_tensor(act_scale, dtype=torch.float32), torch.as_tensor(weight_scale, dtype=torch.float32)


def bias_qparams_per_tensor(obs_or_fqs: Sequence[torch.nn.Module]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-tensor bias qparams from ``[activation_observer, weight_observer]``: a one-element scale."""
    act_scale, weight_scale = _two_scales(obs_or_fqs)
    if act_scale.numel() != 1 or weight_scale.numel() != 1:
        raise ValueError(
            f"per-tensor bias needs per-tensor scales, got {act_scale.numel()} and {weight_scale.numel()} values"
        )
    scale = (act_scale.reshape(-1) * weight_scale.reshape(-1)).reshape(1)
    return scale, torch.zeros(1, dtype=torch.int32)


def bias_qparams_per_channel(obs_or_fqs: Sequence[torch.nn.Module]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel bias qparams from ``[activation_observer, weight_observer]``: one scale per weight channel."""
    act_scale, weight_scale = _two_scales(obs_or_fqs)
    if act_scale.numel() != 1:
        raise ValueError(f"per-channel bias needs a per-tensor activation scale, got {act_scale.numel()} values")
    scale = act_scale.reshape(-1)[0] * weight_scale.reshape(-1)
    return scale, torch.zeros(scale.shape, dtype=torch.int32)
