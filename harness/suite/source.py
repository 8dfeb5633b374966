"""Loading the quantizer to check: ``"package.module:name"``, a class, a factory or an instance becomes a
:class:`QuantizerSource` (a label and a factory giving a configured quantizer, for PTQ or QAT), and a broken or
unavailable one a :class:`QuantizerLoadError` that says why.

The QAT rule: a class or factory that takes an ``is_qat`` keyword (:func:`accepts_is_qat`) is called with
``is_qat=True`` for QAT; one that does not is taken as configured for QAT already (``--pt2e-qat-quantizer``)."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional

from harness.common.loading import resolve_object
from harness.suite.describe import exc_line

__all__ = ["QAT_TAG", "QuantizerLoadError", "QuantizerSource", "is_quantizer", "accepts_is_qat", "quantizer_source",
           "qat_variant", "load_quantizer_factory", "make_quantizer"]

QAT_TAG = "[qat]"  # appended to the label (and the test ids) of a quantizer checked for QAT


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

    ``is_qat``: the quantizer is configured for QAT and every check runs through ``prepare_qat_pt2e``'s steps.
    ``qat_capable``: the object the factory came from takes ``is_qat`` (the suite then checks QAT too).
    ``origin``: that object, which identifies the quantizer in caches (a QAT factory is a new partial each time).
    """

    label: str
    factory: Callable[[], Any]
    is_qat: bool = False
    qat_capable: bool = False
    origin: Any = None

    @property
    def export_strict(self) -> bool:
        return bool(getattr(self.origin if self.origin is not None else self.factory, "export_strict", False))

    @property
    def identity(self) -> tuple[str, int, bool]:
        """What a cache of the quantizer's runs is keyed on (keep the source alive while the key is in use)."""
        return self.label, id(self.origin if self.origin is not None else self.factory), self.is_qat


def is_quantizer(obj: Any) -> bool:
    """An object with callable ``annotate`` and ``validate`` (what ``prepare_pt2e`` calls)."""
    return callable(getattr(obj, "annotate", None)) and callable(getattr(obj, "validate", None))


def accepts_is_qat(obj: Any) -> bool:
    """Whether the class or factory ``obj`` can be called with the keyword ``is_qat`` (not through ``**kwargs``)."""
    if is_quantizer(obj) and not isinstance(obj, type):
        return False
    try:
        parameter = inspect.signature(obj).parameters.get("is_qat")
    except (TypeError, ValueError):  # no signature (a builtin)
        return False
    return parameter is not None and parameter.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                        inspect.Parameter.POSITIONAL_OR_KEYWORD)


def quantizer_source(obj: Any, label: Optional[str] = None, is_qat: bool = False) -> QuantizerSource:
    """A :class:`QuantizerSource` from a quantizer instance (reused for every graph), a ``Quantizer`` class or a
    zero-argument factory (called for every graph). ``is_qat``: for QAT (the label gets ``[qat]``), calling the
    factory with ``is_qat=True`` when it takes that keyword."""
    tag = f" {QAT_TAG}" if is_qat else ""
    if is_quantizer(obj) and not isinstance(obj, type):
        name = label or f"{type(obj).__module__}.{type(obj).__qualname__}"
        return QuantizerSource(name + tag, lambda: obj, is_qat, False, obj)
    if callable(obj):
        name = label or f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
        capable = accepts_is_qat(obj)
        factory = functools.partial(obj, is_qat=True) if is_qat and capable else obj
        return QuantizerSource(name + tag, factory, is_qat, capable, obj)
    raise QuantizerLoadError(f"{label or obj!r}: not a Quantizer, a Quantizer class or a zero-argument factory")


def qat_variant(source: QuantizerSource) -> QuantizerSource:
    """The QAT source of the quantizer ``source`` was made from (``source`` itself when it is for QAT already)."""
    if source.is_qat:
        return source
    label = source.label
    return quantizer_source(source.origin if source.origin is not None else source.factory, label, is_qat=True)


def load_quantizer_factory(spec: str, is_qat: bool = False) -> QuantizerSource:
    """``"package.module:name"`` -> a :class:`QuantizerSource` labelled ``spec`` (``spec [qat]`` with ``is_qat``).

    ``name`` (dotted names allowed) is a ``Quantizer`` subclass, a zero-argument callable returning a configured
    quantizer, or a quantizer instance. The factory is called once here, so a broken or unavailable one is reported
    before any check runs (:class:`QuantizerLoadError`).
    """
    try:
        obj = resolve_object(spec, what="NAME, e.g. harness.quantizers:xnnpack")
    except ValueError as e:
        raise QuantizerLoadError(str(e), unavailable=False) from e
    source = quantizer_source(obj, spec, is_qat)
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
