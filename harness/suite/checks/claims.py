"""What a quantizer says it supports (``get_supported_operators()``), as normalised op names, and whether that
covers a model of :mod:`harness.suite.subjects.models` (a model a quantizer does not claim is not its business)."""

from __future__ import annotations

from typing import Any, Optional

from harness.suite.subjects import models

__all__ = ["norm_op", "claimed_ops", "claims_model"]


def norm_op(name: str) -> str:
    """``"adaptive_avg_pool2d"`` and ``"AdaptiveAvgPool2d"`` -> ``"adaptiveavgpool2d"``."""
    return name.lower().replace("_", "")


def claimed_ops(quantizer: Any) -> Optional[frozenset[str]]:
    """The ops a quantizer says it supports through ``get_supported_operators()`` (normalised names such as
    ``"conv2d"``, ``"linear"``, ``"embedding"``), or None when it does not say. An answer naming no op counts as
    not saying: quantizers that do annotate return ``[]`` as a stub (ExecuTorch's Cadence quantizers do)."""
    getter = getattr(quantizer, "get_supported_operators", None)
    if not callable(getter):
        return None
    try:
        configs = getter()
    except Exception:  # noqa: BLE001 - a quantizer that cannot say is treated as not saying
        return None
    names: set[str] = set()

    def visit(x: Any) -> None:
        if isinstance(x, (list, tuple)):
            for y in x:
                visit(y)
        elif isinstance(x, str):
            names.add(norm_op(x.split(".")[-1]))
        else:
            n = getattr(x, "__name__", None)
            if n:
                names.add(norm_op(n))

    for cfg in configs or ():
        visit(getattr(cfg, "operators", ()))
    return frozenset(names) or None


def claims_model(claimed: Optional[frozenset[str]], model_name: str) -> Optional[bool]:
    """Whether ``claimed`` names one of the model's key ops (None: the quantizer does not say)."""
    if claimed is None:
        return None
    return bool({norm_op(op) for op in models.get_model(model_name).key_ops} & claimed)
