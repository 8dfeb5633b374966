"""Loading the quantizer to check: ``"package.module:name"``, a class, a factory or an instance becomes a
:class:`QuantizerSource` (a label and a factory giving a configured quantizer), and a broken or unavailable one a
:class:`QuantizerLoadError` that says why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from harness.common.loading import resolve_object
from harness.suite.describe import exc_line

__all__ = ["QuantizerLoadError", "QuantizerSource", "is_quantizer", "quantizer_source", "load_quantizer_factory",
           "make_quantizer"]


class QuantizerLoadError(ValueError):
    """``MODULE:NAME`` does not give a quantizer; the message says why. ``unavailable`` marks a missing optional
    dependency (the suite skips the quantizer instead of failing)."""

    def __init__(self, message: str, unavailable: bool = False) -> None:
        self.unavailable = unavailable
        super().__init__(message)


@dataclass(frozen=True)
class QuantizerSource:
    """A quantizer to check: a label for reports and a factory giving a configured quantizer per call.

    A factory with the attribute ``export_strict = True`` gets its models and random graphs exported with
    ``torch.export.export(..., strict=True)`` (for quantizers that match on ``source_fn_stack``, which only strict
    export records).
    """

    label: str
    factory: Callable[[], Any]

    @property
    def export_strict(self) -> bool:
        return bool(getattr(self.factory, "export_strict", False))


def is_quantizer(obj: Any) -> bool:
    """An object with callable ``annotate`` and ``validate`` (what ``prepare_pt2e`` calls)."""
    return callable(getattr(obj, "annotate", None)) and callable(getattr(obj, "validate", None))


def quantizer_source(obj: Any, label: Optional[str] = None) -> QuantizerSource:
    """A :class:`QuantizerSource` from a quantizer instance (reused for every graph), a ``Quantizer`` class or a
    zero-argument factory (called for every graph)."""
    if is_quantizer(obj) and not isinstance(obj, type):
        name = label or f"{type(obj).__module__}.{type(obj).__qualname__}"
        return QuantizerSource(name, lambda: obj)
    if callable(obj):
        name = label or f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
        return QuantizerSource(name, obj)
    raise QuantizerLoadError(f"{label or obj!r}: not a Quantizer, a Quantizer class or a zero-argument factory")


def load_quantizer_factory(spec: str) -> QuantizerSource:
    """``"package.module:name"`` -> a :class:`QuantizerSource` labelled ``spec``.

    ``name`` (dotted names allowed) is a ``Quantizer`` subclass, a zero-argument callable returning a configured
    quantizer, or a quantizer instance. The factory is called once here, so a broken or unavailable one is reported
    before any check runs (:class:`QuantizerLoadError`).
    """
    try:
        obj = resolve_object(spec, what="NAME, e.g. harness.quantizers:xnnpack")
    except ValueError as e:
        raise QuantizerLoadError(str(e), unavailable=False) from e
    source = quantizer_source(obj, spec)
    make_quantizer(source)  # fail early
    return source


def make_quantizer(source: QuantizerSource) -> Any:
    """A new quantizer from ``source``'s factory, or :class:`QuantizerLoadError` saying what went wrong."""
    try:
        quantizer = source.factory()
    except ImportError as e:
        raise QuantizerLoadError(f"{source.label}: the factory needs a package that is not installed: {e}",
                                 unavailable=True) from e
    except Exception as e:  # noqa: BLE001 - reported as a load error
        raise QuantizerLoadError(f"{source.label}: the factory raised {exc_line(e)}") from e
    if not is_quantizer(quantizer):
        raise QuantizerLoadError(
            f"{source.label}: the factory returned {type(quantizer).__name__}, not a Quantizer "
            "(an object with annotate() and validate() methods)"
        )
    return quantizer
