"""Loading the quantizer to check: ``"package.module:name"``, a class, a factory or an instance becomes a
:class:`QuantizerSource` (a label and a factory giving a configured quantizer, for PTQ or QAT), and a broken or
unavailable one a :class:`QuantizerLoadError` that says why.

The QAT rule: a class or factory that takes an ``is_qat`` keyword (:func:`accepts_is_qat`) is called with
``is_qat=True`` for QAT; one that does not is taken as configured for QAT already (``--pt2e-qat-quantizer``).

The configuration rule (:func:`quantizer_configs`, :func:`config_variant`): a factory may declare named
configuration variants, the ways a user configures its quantizer (per-tensor, dynamic, a module-type filter...);
a ``Quantizer`` class or instance has none (their attributes are the quantizer's own):

* ``factory.configs``: a tuple of names (Python identifiers of at most 40 characters), the first ``"default"``;
  the factory takes the keyword ``config`` and ``factory(config="default")`` is ``factory()``;
* ``factory.qat_configs`` (optional): the names that have a QAT form (``config=NAME, is_qat=True``); without it,
  all of them when the factory takes ``is_qat``;
* a variant that depends on the graph (a module-name filter naming modules of this graph) takes the keyword
  ``model``: the factory is then called with ``model=`` the exported ``GraphModule`` the quantizer is about to
  annotate (before batch-norm fusion and ``transform_for_annotation``), or ``model=None`` when no graph is at hand
  (only the quantizer's class is wanted). What it configures must be a function of that graph alone (say, of the
  order and types of its modules), so a case replays with the same configuration.

A factory without ``configs`` has one configuration, the default, and is called as before. The suite (the pytest
plugin, ``--pt2e-quantizer``) checks the default configuration only; the quantizer campaign draws a variant with
every case (``Case.quantizer_config``, :mod:`harness.suite.fuzz_target`)."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional

from harness.common.loading import resolve_object
from harness.suite.describe import exc_line

__all__ = ["QAT_TAG", "DEFAULT_CONFIG", "QuantizerLoadError", "QuantizerSource", "is_quantizer", "accepts_is_qat",
           "accepts_keyword", "quantizer_source", "qat_variant", "quantizer_configs", "qat_configs", "config_variant",
           "load_quantizer_factory", "make_quantizer"]

QAT_TAG = "[qat]"  # appended to the label (and the test ids) of a quantizer checked for QAT
DEFAULT_CONFIG = "default"  # the first of a factory's configs: what it gives without ``config``
_MAX_CONFIG_NAME = 40  # harness.case.limits.MAX_WORD_LENGTH: a case stores the name


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
    def maker(self) -> Any:
        """The class or factory the user named: ``origin``, else ``factory`` (what its attributes are read from)."""
        return self.origin if self.origin is not None else self.factory

    @property
    def export_strict(self) -> bool:
        return bool(getattr(self.maker, "export_strict", False))

    @property
    def identity(self) -> tuple[str, int, bool]:
        """What a cache of the quantizer's runs is keyed on (keep the source alive while the key is in use)."""
        return self.label, id(self.maker), self.is_qat


def is_quantizer(obj: Any) -> bool:
    """An object with callable ``annotate`` and ``validate`` (what ``prepare_pt2e`` calls)."""
    return callable(getattr(obj, "annotate", None)) and callable(getattr(obj, "validate", None))


def accepts_keyword(obj: Any, name: str) -> bool:
    """Whether the class or factory ``obj`` can be called with the keyword ``name`` (not through ``**kwargs``)."""
    if obj is None or (is_quantizer(obj) and not isinstance(obj, type)):
        return False
    try:
        parameter = inspect.signature(obj).parameters.get(name)
    except (TypeError, ValueError):  # no signature (a builtin)
        return False
    return parameter is not None and parameter.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                        inspect.Parameter.POSITIONAL_OR_KEYWORD)


def accepts_is_qat(obj: Any) -> bool:
    """Whether the class or factory ``obj`` can be called with the keyword ``is_qat`` (not through ``**kwargs``)."""
    return accepts_keyword(obj, "is_qat")


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
    return quantizer_source(source.maker, label, is_qat=True)


def quantizer_configs(source: QuantizerSource) -> tuple[str, ...]:
    """The configuration variants of ``source``'s factory (the module docstring's rule): its ``configs``, or
    ``("default",)``; :class:`QuantizerLoadError` when they break the rule."""
    origin = source.maker
    configs = None if is_quantizer(origin) else getattr(origin, "configs", None)  # a class or instance: no variants
    if configs is None:
        return (DEFAULT_CONFIG,)
    problem = None
    if not isinstance(configs, tuple) or not configs or configs[0] != DEFAULT_CONFIG:
        problem = f'configs must be a tuple of names whose first is "{DEFAULT_CONFIG}", got {configs!r:.100}'
    elif any(not isinstance(c, str) or not c.isidentifier() or len(c) > _MAX_CONFIG_NAME for c in configs):
        problem = f"configs must be identifiers of at most {_MAX_CONFIG_NAME} characters, got {configs!r:.100}"
    elif len(set(configs)) != len(configs) or not accepts_keyword(origin, "config"):
        problem = "configs must not repeat a name, and the factory must take the keyword config"
    if problem is not None:
        raise QuantizerLoadError(f"{source.label}: {problem}")
    return configs


def qat_configs(source: QuantizerSource) -> tuple[str, ...]:
    """The variants of :func:`quantizer_configs` that have a QAT form (none when the factory takes no ``is_qat``)."""
    origin = source.maker
    if not accepts_is_qat(origin):
        return ()
    configs = quantizer_configs(source)
    return tuple(c for c in configs if c in getattr(origin, "qat_configs", configs))


def config_variant(source: QuantizerSource, name: str, model: Any = None) -> QuantizerSource:
    """``source`` configured as its variant ``name`` (``""`` or ``"default"``: the default), for the graph
    ``model`` when the factory takes ``model`` (the module docstring's rule). The label says a variant other than
    the default (``LABEL [NAME]``); :class:`QuantizerLoadError` for a name the factory does not declare, or a QAT
    source of a variant without a QAT form."""
    name = name or DEFAULT_CONFIG
    origin = source.maker
    configs = quantizer_configs(source)
    if name not in configs:
        raise QuantizerLoadError(f"{source.label}: no configuration variant {name!r} (it has {', '.join(configs)})")
    if source.is_qat and name not in qat_configs(source):
        raise QuantizerLoadError(f"{source.label}: the configuration variant {name!r} has no QAT form")
    keywords: dict[str, Any] = {"config": name} if name != DEFAULT_CONFIG else {}
    if model is not None and accepts_keyword(origin, "model"):
        keywords["model"] = model
    if not keywords:
        return source
    label = source.label if name == DEFAULT_CONFIG else f"{source.label} [{name}]"
    return QuantizerSource(label, functools.partial(source.factory, **keywords), source.is_qat, source.qat_capable,
                           origin)


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
