"""What a reproduction script takes from the harness's torch side, as text: derive-function source and the
per-channel qscheme names.

Rule: the script carries no hand copy of harness code. A derive function is written as the source of its one
home, :mod:`harness.fx.derive` (``inspect.getsource``), together with the helpers of that module it calls; the
qschemes that carry a channel axis are :data:`harness.fx.nodes.PER_CHANNEL_QSCHEMES`, formatted as the strings
``str(torch.per_channel_...)`` the script compares observers with. Both need torch, so
:mod:`harness.tools.repro` imports this module only when it writes a script.
"""

from __future__ import annotations

import inspect
from typing import Callable, Sequence

from harness.fx import derive
from harness.fx.nodes import PER_CHANNEL_QSCHEMES
from harness.fx.ops import resolve_derive_fn

__all__ = ["derive_function_sources", "per_channel_qscheme_names"]


def _with_helpers(fn: Callable, ordered: list[Callable]) -> None:
    """Append the functions of :mod:`harness.fx.derive` that ``fn`` calls (first), then ``fn``, once each."""
    for name in fn.__code__.co_names:
        helper = getattr(derive, name, None)
        if inspect.isfunction(helper) and helper.__module__ == derive.__name__ and helper not in ordered:
            _with_helpers(helper, ordered)
    if fn not in ordered:
        ordered.append(fn)


def derive_function_sources(derive_fns: Sequence[str]) -> str:
    """The source of the derive functions named ``derive_fns`` (allow-listed names such as
    ``harness.derive.bias_qparams_per_tensor``) and of the helpers they call, helpers first."""
    ordered: list[Callable] = []
    for name in derive_fns:
        _with_helpers(resolve_derive_fn(name), ordered)
    return "\n\n\n".join(inspect.getsource(fn).rstrip("\n") for fn in ordered)


def per_channel_qscheme_names() -> list[str]:
    """``str()`` of each per-channel qscheme (``"torch.per_channel_affine"``, ...), sorted."""
    return sorted(str(q) for q in PER_CHANNEL_QSCHEMES)
