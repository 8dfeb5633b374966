"""The machinery of the quantizer mutants (:mod:`harness.mutants.quantizers`): a real quantizer with one seeded
annotator bug that fires on one graph shape.

The rule: a mutant is a :class:`Seeded` record (its name, the factory of ``harness.quantizers`` it is built on,
its gate and its bug, in words and as code) and a factory made from it by :func:`factory`. The factory calls the
real factory (with ``is_qat`` when that one takes it, so the campaign also fuzzes the mutant for QAT) and turns the
quantizer it returns into an instance of a subclass of its own class whose ``annotate`` first runs the real one,
then finds the gated nodes (``find(model)``) and, only when there are some, applies the bug to them
(``apply(quantizer, model, nodes)``). On a graph without the shape the mutant annotates exactly as the real
quantizer does. The subclass is defined here, so the campaign's reach tracer (which skips ``harness`` modules)
still measures the real quantizer's own package.

No upstream code is copied: the real quantizer is imported and subclassed. The real factories are named by
string (``harness.quantizers:NAME``, resolved on first use), as the harness names them; the import contracts in
``pyproject.toml`` keep ``harness.mutants`` from importing ``harness.quantizers`` directly.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch.fx import GraphModule, Node
from torchao.quantization.pt2e.observer import HistogramObserver
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, QuantizationSpec

__all__ = ["ANNOTATION_KEY", "Seeded", "factory", "base_factory", "calls", "is_call", "annotation", "act_spec",
           "CONV_OPS"]

ANNOTATION_KEY = "quantization_annotation"
BASES = "harness.quantizers"
CONV_OPS = ("aten.conv1d.default", "aten.conv2d.default", "aten.conv3d.default", "aten.conv1d.padding",
            "aten.conv2d.padding", "aten.conv3d.padding")


@dataclass(frozen=True)
class Seeded:
    """One seeded annotator bug: ``gate`` (the graph shape, in words) and ``bug`` (what goes wrong there, in words)
    for people; ``find(model) -> nodes`` and ``apply(quantizer, model, nodes)`` for the machine. ``op`` is the
    ATen op the gate is about (its main op), ``detect`` the stage of the quantizer campaign that must report it
    (``annotate``: annotate() raises or changes the graph; ``well_formed``: a malformed annotation)."""

    name: str
    base: str
    op: str
    gate: str
    bug: str
    detect: str
    find: Callable[[GraphModule], list]
    apply: Callable[[Any, GraphModule, list], None]

    @classmethod
    def of(cls, name: str, base: str, op: str, detect: str, find: Callable, apply: Callable) -> "Seeded":
        """The seeded bug whose gate and bug, in words, are the docstrings of ``find`` and ``apply``."""
        return cls(name, base, op, _words(find), _words(apply), detect, find, apply)


def _words(fn: Callable) -> str:
    text = " ".join((fn.__doc__ or "").split()).rstrip(".")
    return text[:1].lower() + text[1:]


def base_factory(name: str) -> Callable:
    """The real factory ``harness.quantizers:name``."""
    return getattr(importlib.import_module(BASES), name)


def _seeded_annotate(seeded: Seeded, real_class: type) -> Callable:
    """The ``annotate`` of a mutant: the real class's, then the seeded bug where the gate matches."""

    def annotate(self: Any, model: GraphModule) -> GraphModule:
        result = real_class.annotate(self, model)
        annotated = result if isinstance(result, GraphModule) else model
        nodes = seeded.find(annotated)
        if nodes:
            seeded.apply(self, annotated, nodes)
        return result

    annotate.__doc__ = f"{real_class.__name__}.annotate(), then, on {seeded.gate}: {seeded.bug}."
    return annotate


def _seed(quantizer: Any, seeded: Seeded) -> Any:
    """``quantizer``, now an instance of a subclass of its class (same layout) whose annotate() has the bug."""
    cls = type(quantizer)
    sub = type(f"{cls.__name__}_{seeded.name}", (cls,),
               {"annotate": _seeded_annotate(seeded, cls), "seeded": seeded, "__module__": __name__,
                "__doc__": f"{cls.__name__} with a seeded bug: {seeded.bug} (on {seeded.gate})"})
    quantizer.__class__ = sub
    return quantizer


def factory(seeded: Seeded) -> Callable:
    """The factory of the mutant ``seeded``: takes ``is_qat`` when the real factory does; carries the real
    factory's ``export_strict`` and ``allow_derive`` (what the suite needs to know of it)."""
    real = base_factory(seeded.base)
    if "is_qat" in inspect.signature(real).parameters:
        def make(is_qat: bool = False) -> Any:
            return _seed(real(is_qat=is_qat), seeded)
    else:
        def make() -> Any:  # type: ignore[misc]
            return _seed(real(), seeded)
    make.__name__ = make.__qualname__ = seeded.name
    make.__module__ = "harness.mutants.quantizers"
    make.__doc__ = (f"Mutant of harness.quantizers:{seeded.base} (a seeded annotator bug).\n\n"
                    f"Gate: {seeded.gate}.\nBug: {seeded.bug}.\nFound by: {seeded.detect}.")
    for attr in ("export_strict", "allow_derive"):
        if hasattr(real, attr):
            setattr(make, attr, getattr(real, attr))
    make.seeded = seeded  # type: ignore[attr-defined]
    return make


# ---- reading and writing graphs ----------------------------------------------------------------------------

def is_call(node: Any, *targets: str) -> bool:
    """``node`` is an fx call of one of the ATen overloads ``targets`` (``"aten.cat.default"``)."""
    return isinstance(node, Node) and node.op == "call_function" and str(node.target) in targets


def calls(model: GraphModule, *targets: str, where: Optional[Callable[[Node], bool]] = None) -> list[Node]:
    """The calls of ``targets`` in ``model``, in graph order, that satisfy ``where``."""
    return [n for n in model.graph.nodes if is_call(n, *targets) and (where is None or where(n))]


def annotation(node: Node) -> QuantizationAnnotation:
    """The node's annotation, created (empty) when it has none."""
    qa = node.meta.get(ANNOTATION_KEY)
    if qa is None:
        qa = node.meta[ANNOTATION_KEY] = QuantizationAnnotation()
    return qa


def act_spec(quantizer: Any) -> QuantizationSpec:
    """The quantizer's own activation spec (its global configuration's ``input_activation``), or an int8
    per-tensor histogram spec for a quantizer without one."""
    config = getattr(quantizer, "global_config", None)
    spec = getattr(config, "input_activation", None)
    if isinstance(spec, QuantizationSpec):
        return spec
    return QuantizationSpec(torch.int8, HistogramObserver, -128, 127, torch.per_tensor_affine)
