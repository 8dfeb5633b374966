"""Small fx facts every layer above uses, each with one home: the annotation key, the per-channel qschemes, and
the walk over the nodes inside a (nested) node argument."""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch.fx import Node
from torch.fx.node import map_aggregate
from torchao.quantization.pt2e.quantizer.quantizer import Q_ANNOTATION_KEY as ANNOTATION_KEY

__all__ = ["ANNOTATION_KEY", "PER_CHANNEL_QSCHEMES", "arg_nodes"]

# qschemes whose observers carry a channel axis (``ch_axis``).
PER_CHANNEL_QSCHEMES = frozenset(
    {torch.per_channel_affine, torch.per_channel_symmetric, torch.per_channel_affine_float_qparams})


def arg_nodes(value: Any) -> Iterator[Node]:
    """The fx Nodes in a node argument, through nested lists, tuples, slices and dicts, in order (torch.fx's own
    traversal, so it reaches exactly what fx would map)."""
    found: list[Node] = []
    map_aggregate(value, lambda v: found.append(v) if isinstance(v, Node) else None)
    return iter(found)
