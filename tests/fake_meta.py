"""A value torch computed, as the strategies' shape rules describe it (shared by the strategies' tests)."""

from __future__ import annotations

import torch

from harness.case import TensorMeta
from harness.fx import ops


def fake_meta(v):
    """A tensor -> its :class:`TensorMeta`; a list or tuple -> the tuple of its items'; anything else as it is."""
    if isinstance(v, torch.Tensor):
        return TensorMeta(tuple(v.shape), ops.dtype_name(v.dtype))
    if isinstance(v, (list, tuple)):
        return tuple(fake_meta(x) for x in v)
    return v
