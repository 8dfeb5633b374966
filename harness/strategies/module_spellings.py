"""Module spellings without parameters, for the op table's ``stateless`` field (:class:`harness.strategies.gen_base.Op`):
how a program calls an op through a ``torch.nn`` module that owns nothing (``nn.ReLU()(x)``, ``nn.MaxPool2d(3, 2)(x)``),
as real models do and as quantizers match (``get_source_partitions`` and ``find_sequential_partitions`` take module
classes; without a strict export, only a module call leaves its class in the graph, in ``nn_module_stack``).

Each helper gives the pairs ``(class name, constructor)`` of one entry; a constructor takes the node's
``harness.strategies.exported.Call`` and returns the module, or None when the arguments do not fit it (then the
function spelling is written). The class names are those ``harness.case.names.STATELESS_MODULES`` allows for the op.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

__all__ = ["plain", "hardtanh", "pooled", "with_args"]

Spelling = tuple[tuple[str, Callable[[Any], Any]], ...]


def plain(cls: str, inplace: bool = False) -> Spelling:
    """``nn.<cls>()`` (``inplace=True`` for the in-place op), for an op of one tensor argument and no other."""
    def make(c: Any) -> Optional[Any]:
        if len(c.a) > 1 or c.k:
            return None
        return getattr(c.nn, cls)(inplace=True) if inplace else getattr(c.nn, cls)()

    return ((cls, make),)


def with_args(cls: str, *names: tuple[str, Any]) -> Spelling:
    """``nn.<cls>(a1, a2, ...)``: the op's arguments after the input, by position or keyword (``names``: each
    argument's schema name and default), passed by position; None when the op has more arguments than those."""
    def make(c: Any) -> Optional[Any]:
        if len(c.a) > 1 + len(names) or set(c.k) - {n for n, _ in names}:
            return None
        return getattr(c.nn, cls)(*(c.p(i + 1, n, d) for i, (n, d) in enumerate(names)))

    return ((cls, make),)


def hardtanh(inplace: bool = False) -> Spelling:
    """``nn.Hardtanh(min_val, max_val)``, and ``nn.ReLU6()`` for the bounds 0 and 6 (which nn.ReLU6 calls F.hardtanh
    with: torch.export records a hardtanh)."""
    def bounds(c: Any) -> tuple[float, float]:
        return c.p(1, "min_val", -1.0), c.p(2, "max_val", 1.0)

    def make_hardtanh(c: Any) -> Any:
        return c.nn.Hardtanh(*bounds(c), inplace=inplace)

    def make_relu6(c: Any) -> Optional[Any]:
        return c.nn.ReLU6(inplace=inplace) if bounds(c) == (0.0, 6.0) else None

    return (("Hardtanh", make_hardtanh), ("ReLU6", make_relu6))


def pooled(cls: str, *names: tuple[str, Any]) -> Spelling:
    """``nn.<cls>(kernel_size, ...)`` for a pool: the kernel, then ``names`` by position (a ``stride`` of ``[]``
    or None is the kernel's, as the module's default). Not with ``ceil_mode=True``: torch.export records
    ``nn.MaxPool2d(..., ceil_mode=True)`` as another op (``max_pool2d_with_indices``)."""
    def make(c: Any) -> Optional[Any]:
        if len(c.a) > 2 + len(names) or set(c.k) - {n for n, _ in names}:
            return None
        if any(n == "ceil_mode" and c.p(i + 2, n, d) for i, (n, d) in enumerate(names)):
            return None
        given = [c.p(i + 2, n, d) for i, (n, d) in enumerate(names)]
        if names and names[0][0] == "stride" and not given[0]:
            given[0] = None
        return getattr(c.nn, cls)(c.a[1], *given)

    return ((cls, make),)
