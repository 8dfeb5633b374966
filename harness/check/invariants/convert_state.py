"""Convert state: the prepared module carries ``meta["_observed_graph_module_attrs"]`` with the right ``is_qat``
(``convert`` reads it).
"""

from __future__ import annotations

from harness.check.invariants.context import CheckContext, Violation

__all__ = ["check_convert_state"]


def check_convert_state(ctx: CheckContext) -> list[Violation]:
    """The prepared module carries ``meta["_observed_graph_module_attrs"]`` with the right ``is_qat``."""
    attrs = ctx.prepared.meta.get("_observed_graph_module_attrs")
    if attrs is None:
        return [
            Violation(
                "convert_state",
                "the prepared module has no meta['_observed_graph_module_attrs'] (convert needs it)",
            )
        ]
    is_qat = getattr(attrs, "is_qat", None)
    if is_qat != ctx.is_qat:
        return [
            Violation(
                "convert_state",
                f"meta['_observed_graph_module_attrs'].is_qat is {is_qat}, expected {ctx.is_qat}",
            )
        ]
    return []
