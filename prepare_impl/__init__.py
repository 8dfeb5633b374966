"""A reference implementation of the PT2E quantization ``prepare`` step, written from its semantics.

Drop-in replacements for torchao's entry points::

    from prepare_impl import prepare, prepare_pt2e, prepare_qat_pt2e

and the pure analysis they are built on::

    from prepare_impl import sharing_groups   # annotations -> sharing groups, no graph mutation

The rules, in the order they apply (each module's docstring has the details):

* Keys (``prepare_impl.keys``): annotated input edges ``(arg, node)`` and annotated node outputs, in annotation
  order. ``None`` specs are not keys. An annotated input must be an input of its node; an annotated node must
  not take a tensor keyword argument.
* Sharing groups (``prepare_impl.grouping``): explicit sharing through ``SharedQuantizationSpec`` (anchored
  anywhere in the graph, chains of any depth, no cycles, no dangling references); implicit sharing of an input
  edge with its sibling edges and with its producer's output when their specs agree on dtype, is_dynamic,
  quant_min, quant_max, qscheme, ch_axis, scale and zero_point and the consumer allows implicit sharing. Each
  group's spec is that of its first member (in annotation order) with a concrete spec.
* Observers (``prepare_impl.observers``): one instance per group; fixed-qparams specs give an observer in PTQ
  and a fake quant in QAT; derived specs read the instances of their source groups. torchao's own classes are
  cloned from a prototype built with equal arguments (``prepare_impl.observer_clone``), a third of the cost.
* Insertion (``prepare_impl.insertion``): input observers in front of each observed edge, reused when the
  producer's output observer or an earlier input observer already observes the value with the same instance;
  an edge observer observes the value as its consumer reads it (after in-place writes to its storage that come
  before the consumer, where torchao observes it before them); output observers after tensor-valued outputs;
  nothing on buffer updates of in-place ops.
* State (``prepare_impl.prepare``): ``meta["_observed_graph_module_attrs"]`` for ``convert_pt2e``.

Where torchao's prepare fails on valid annotations (a shared spec anchored later in graph order, deep sharing
chains, quadratic time), this one is correct; ``corpus/upstream_bugs`` holds the cases.
"""

from prepare_impl.errors import (
    AnnotationError,
    CyclicSharingError,
    DanglingReferenceError,
    DerivedCycleError,
    NotAnInputError,
    TensorKwargError,
    UnknownSpecError,
)
from prepare_impl.grouping import Group, SharingAnalysis, sharing_groups
from prepare_impl.keys import describe
from prepare_impl.prepare import prepare, prepare_pt2e, prepare_qat_pt2e

__all__ = [
    "AnnotationError",
    "CyclicSharingError",
    "DanglingReferenceError",
    "DerivedCycleError",
    "Group",
    "NotAnInputError",
    "SharingAnalysis",
    "TensorKwargError",
    "UnknownSpecError",
    "describe",
    "prepare",
    "prepare_pt2e",
    "prepare_qat_pt2e",
    "sharing_groups",
]
