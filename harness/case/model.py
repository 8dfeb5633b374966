"""The data model of a case: a graph, its quantization annotations, and what prepare must do with them.

A case is plain, immutable data. It is what the hypothesis strategies generate (so hypothesis can shrink
it), what the corpus stores as JSON (``harness.case.files``), and what ``harness.fx.build`` turns into a
``torch.fx.GraphModule`` whose nodes carry FakeTensor ``meta["val"]`` and real ``QuantizationAnnotation``s.

Nothing here imports torch: the model must stay cheap to create, compare and hash.

Conventions
-----------
* Nodes are named; every reference to a node, an edge or a spec target is by name.
* A node argument that is another node is a :class:`Ref`; lists (``cat``'s tensors, ``view``'s shape)
  are tuples; everything else is a JSON scalar (int, float, bool, None, str) or a :class:`Const`
  (a torch constant such as a dtype or a memory format, by name).
* ``Node.target`` of a ``call_function`` is an op name such as ``"aten.conv2d.default"`` or
  ``"getitem"`` (``operator.getitem``); the allow-list lives in ``harness.fx.ops``.
* An annotation spec's observer is a :class:`Ctor`: a qualified class name from the allow-list in
  ``harness.fx.ops`` plus keyword arguments (its ``with_args``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional, Union

__all__ = [
    "Scalar",
    "Ref",
    "Const",
    "Arg",
    "TensorMeta",
    "Node",
    "Graph",
    "EdgeRef",
    "NodeRef",
    "Target",
    "Ctor",
    "QSpec",
    "SharedSpec",
    "DerivedSpec",
    "FixedSpec",
    "Spec",
    "NodeAnnotation",
    "Expected",
    "Info",
    "Case",
]

Scalar = Union[int, float, bool, str, None]


@dataclass(frozen=True)
class Ref:
    """A reference to the node called ``name`` (an argument that is a tensor/value produced by it)."""

    name: str


@dataclass(frozen=True)
class Const:
    """A torch constant by name: ``Const("dtype", "float32")``, ``Const("memory_format", "contiguous_format")``."""

    kind: Literal["dtype", "memory_format", "layout", "device"]
    value: str


Arg = Union[Ref, Const, Scalar, tuple]  # tuple of Arg


@dataclass(frozen=True)
class TensorMeta:
    shape: tuple[int, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class Node:
    name: str
    op: Literal["placeholder", "get_attr", "call_function", "output"]
    # call_function: op name ("aten.add.Tensor", "getitem"); get_attr: attribute path; else "".
    target: str = ""
    args: tuple = ()
    kwargs: tuple[tuple[str, Arg], ...] = ()
    # placeholder and get_attr only: the tensor it stands for.
    tensor: Optional[TensorMeta] = None
    # get_attr only: "parameter" or "buffer".
    attr_kind: Optional[Literal["parameter", "buffer"]] = None
    # call_function only: the torch.nn module without parameters the program calls the op through ("ReLU": the
    # program writes nn.ReLU()(x), recorded by torch.export in nn_module_stack), one of
    # harness.case.names.STATELESS_MODULES[target]; "": the op's function spelling.
    module: str = ""


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


# ---- annotations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeRef:
    """The input edge ``arg -> node``: the value of node ``arg`` as consumed by node ``node``."""

    arg: str
    node: str


@dataclass(frozen=True)
class NodeRef:
    """The output of node ``name``."""

    name: str


Target = Union[EdgeRef, NodeRef]


@dataclass(frozen=True)
class Ctor:
    """An observer or fake-quant constructor: ``qualname`` from the allow-list, with ``with_args`` kwargs.

    A kwarg value that is itself a class (FakeQuantize's ``observer=``) is a nested ``Ctor`` without kwargs.
    """

    qualname: str
    kwargs: tuple[tuple[str, Union[Scalar, "Ctor"]], ...] = ()


@dataclass(frozen=True)
class QSpec:
    """``QuantizationSpec``."""

    dtype: str
    observer: Ctor
    quant_min: Optional[int] = None
    quant_max: Optional[int] = None
    qscheme: Optional[str] = None  # "per_tensor_affine", "per_channel_symmetric", ...
    ch_axis: Optional[int] = None
    is_dynamic: bool = False


@dataclass(frozen=True)
class SharedSpec:
    """``SharedQuantizationSpec``."""

    target: Target


@dataclass(frozen=True)
class DerivedSpec:
    """``DerivedQuantizationSpec``; ``derive_fn`` is a qualified name from the allow-list in ``harness.fx.ops``."""

    derived_from: tuple[Target, ...]
    derive_fn: str
    dtype: str
    quant_min: Optional[int] = None
    quant_max: Optional[int] = None
    qscheme: Optional[str] = None
    ch_axis: Optional[int] = None
    is_dynamic: bool = False


@dataclass(frozen=True)
class FixedSpec:
    """``FixedQParamsQuantizationSpec``."""

    dtype: str
    scale: float
    zero_point: int
    quant_min: Optional[int] = None
    quant_max: Optional[int] = None
    qscheme: Optional[str] = None
    is_dynamic: bool = False


Spec = Union[QSpec, SharedSpec, DerivedSpec, FixedSpec]


@dataclass(frozen=True)
class NodeAnnotation:
    """``QuantizationAnnotation`` of node ``node``. ``inputs`` keeps the order of ``input_qspec_map``."""

    node: str
    inputs: tuple[tuple[str, Optional[Spec]], ...] = ()
    output: Optional[Spec] = None
    allow_implicit_sharing: bool = True


# ---- expected outcome and provenance -----------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What a correct prepare does with the case.

    Either ``error`` (the name of a ``prepare_impl`` error class, e.g. ``"CyclicSharingError"``) or
    ``canonical``: the canonical form of the prepared model (see ``harness.check.canonical``), as JSON data.
    """

    error: Optional[str] = None
    canonical: Optional[dict] = None


@dataclass(frozen=True)
class Info:
    title: str = ""
    kind: Literal["conformance", "upstream_bug", "finding", "scenario", "quantizer_bug"] = "finding"
    link: str = ""  # public report (upstream bugs)
    notes: str = ""  # what upstream does, what the reference does
    upstream: str = ""  # "crashes", "wrong", "fixed", "" (unknown / agrees)
    tags: tuple[str, ...] = ()
    # quantizer bugs (harness.corpus.quantizer_bugs): the quantizer the graph is replayed through,
    # "harness.quantizers:NAME", and the failure the quantizer campaign reports on it (its name-free signature)
    quantizer: str = ""
    failure: str = ""


@dataclass(frozen=True)
class Case:
    """A graph and its annotations. ``is_qat``: prepared for QAT. ``quantizer_config``: for a quantizer campaign,
    the name of the quantizer's configuration variant that annotates the case (``""``: its default configuration;
    see :mod:`harness.suite.source`); ``strict_export``: for a quantizer campaign, the graph's module program is
    exported with ``torch.export.export(strict=True)`` (which records ``source_fn_stack``) whatever the quantizer's
    own export mode; the prepare target ignores both."""

    graph: Graph
    annotations: tuple[NodeAnnotation, ...]
    is_qat: bool = False
    expected: Optional[Expected] = None
    info: Info = field(default_factory=Info)
    quantizer_config: str = ""
    strict_export: bool = False
