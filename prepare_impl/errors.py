"""Typed errors of the reference prepare.

Every error is an :class:`AnnotationError` and names the edges or nodes at fault, so a quantizer author can find
the annotation to fix. ``AnnotationError`` is a ``ValueError`` and also an ``AssertionError``: torchao's prepare
rejects these annotations, where it rejects them on purpose, with ``AssertionError`` (a shared spec that refers to
an edge or node without an observer; a tensor keyword argument on an annotated node; a spec that is not a
``QuantizationSpec``), so code and tests written against torchao (``except AssertionError``, ``assertRaises``)
keep working with the reference. The messages are ours. (torchao's crashes on the same inputs, a
``RecursionError`` or a bare ``KeyError``, are not a contract and are not imitated.) Edges are written ``(arg -> node)`` and node outputs by the
node's name, as :func:`prepare_impl.keys.describe` renders them.
"""

from __future__ import annotations


class AnnotationError(ValueError, AssertionError):
    """The quantization annotations on the graph cannot be prepared."""


class CyclicSharingError(AnnotationError):
    """``SharedQuantizationSpec`` references form a cycle, so no member of it has a concrete spec.

    ``chain`` lists the descriptions of the keys in the cycle, in reference order.
    """

    def __init__(self, chain: list[str]):
        self.chain = chain
        shown = " -> ".join(chain + chain[:1])
        super().__init__(
            f"cyclic SharedQuantizationSpec: {shown}; every key in this cycle shares with the next one, so none "
            "of them has a concrete QuantizationSpec to build an observer from"
        )


class DanglingReferenceError(AnnotationError):
    """A shared or derived spec refers to an edge or node that carries no quantization spec."""

    def __init__(self, referrer: str, target: str, kind: str):
        self.referrer = referrer
        self.target = target
        self.kind = kind
        super().__init__(
            f"{kind} of {referrer} refers to {target}, which carries no quantization spec "
            "(annotate it, or refer to an annotated edge or node)"
        )


class NotAnInputError(AnnotationError):
    """``input_qspec_map`` of a node names something that is not one of its inputs."""

    def __init__(self, node: str, arg: str):
        self.node = node
        self.arg = arg
        super().__init__(
            f"input_qspec_map of node {node!r} annotates {arg}, which is not an input of {node!r}"
        )


class TensorKwargError(AnnotationError):
    """An annotated node takes a tensor (an fx Node) as a keyword argument, which prepare cannot observe."""

    def __init__(self, node: str, kwarg: str, value: str):
        self.node = node
        self.kwarg = kwarg
        super().__init__(
            f"annotated node {node!r} takes the tensor {value} as keyword argument {kwarg!r}; kwargs are never "
            "observed, so this tensor would silently stay unquantized (pass it positionally)"
        )


class DerivedCycleError(AnnotationError):
    """Derived specs depend on each other in a cycle, so no observer can be created first."""

    def __init__(self, chain: list[str]):
        self.chain = chain
        shown = " -> ".join(chain + chain[:1])
        super().__init__(f"cyclic DerivedQuantizationSpec dependencies between sharing groups: {shown}")


class UnknownSpecError(AnnotationError):
    """A value in an annotation is not a quantization spec this prepare knows."""

    def __init__(self, where: str, value: object):
        self.where = where
        super().__init__(f"{where} is {value!r}, which is not a known QuantizationSpecBase subclass")
