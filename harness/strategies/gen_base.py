"""What the op generators share, below the graph state and the op table: :class:`OpGen` (how one op is drawn),
:class:`Val` (an operand candidate), the placeholder shapes and the shape facts generators use (reshape targets,
contiguity of a permutation, trimming default arguments). The generators import this module, never
``harness.strategies.graph_state`` (which reads the op table, which lists the generators)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from hypothesis import strategies as st

from harness.case import TensorMeta

if TYPE_CHECKING:
    from harness.strategies.graph_state import GraphState

__all__ = [
    "PLACEHOLDER_SHAPES",
    "Op",
    "OpGen",
    "Val",
    "indices",
    "base_name",
    "default_trimmed",
    "numel",
    "permuted_contiguous",
    "reshape_targets",
]

PLACEHOLDER_SHAPES: tuple[tuple[int, ...], ...] = ((1, 4, 8, 8), (2, 8), (2, 3, 8), (1, 8, 4, 4))


def base_name(target: str) -> str:
    return "getitem" if target == "getitem" else target.split(".")[1]


def default_trimmed(args: list, defaults: Sequence) -> tuple:
    """Drop trailing arguments equal to their schema default (as ``torch.export`` prints them)."""
    n_required = len(args) - len(defaults)
    while len(args) > n_required and args[-1] == defaults[len(args) - 1 - n_required]:
        args.pop()
    return tuple(args)


@dataclass(frozen=True)
class OpGen:
    """How to draw one op: ``ok`` says whether it can be applied to the current graph, ``emit`` appends it."""

    name: str
    ok: Callable[["GraphState"], bool]
    emit: Callable[["GraphState"], None]


@dataclass
class Val:
    name: str
    meta: TensorMeta
    contiguous: bool


@functools.lru_cache(maxsize=None)
def indices(n: int) -> st.SearchStrategy[int]:
    """Strategy for an index into a sequence of ``n`` options (cached: building strategies is not free)."""
    return st.integers(0, n - 1)


def numel(v: Val) -> int:
    return math.prod(v.meta.shape)


def permuted_contiguous(shape: tuple[int, ...], dims: Sequence[int]) -> bool:
    """Whether permuting a contiguous tensor of ``shape`` by ``dims`` gives a contiguous tensor."""
    strides, acc = [0] * len(shape), 1
    for i in reversed(range(len(shape))):
        strides[i] = acc
        acc *= shape[i]
    kept = [strides[d] for d in dims if shape[d] != 1]
    return kept == sorted(kept, reverse=True)


@functools.lru_cache(maxsize=4096)
def reshape_targets(shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Shapes a value can move to with view/reshape: merge or split adjacent dims, flatten, and a few fixed ones."""
    n = math.prod(shape)
    out: list[tuple[int, ...]] = [(n,)]
    for i in range(len(shape) - 1):
        out.append(shape[:i] + (shape[i] * shape[i + 1],) + shape[i + 2 :])
    if len(shape) < 4:
        for i, s in enumerate(shape):
            for f in (2, 4):
                if s % f == 0 and s > f:
                    out.append(shape[:i] + (f, s // f) + shape[i + 1 :])
    for fixed in PLACEHOLDER_SHAPES + ((2, 4, 8), (1, 64), (2, 32), (4, 8)):
        if math.prod(fixed) == n:
            out.append(fixed)
    seen: list[tuple[int, ...]] = []
    for s in out:
        if s not in seen and s != shape and len(s) <= 4:
            seen.append(s)
    return tuple(seen)


@dataclass(frozen=True)
class Op:
    """One entry of the op table (:mod:`harness.strategies.op_table`): everything the harness knows of one op.

    * ``name``: the case's name of the op (``"aten.gelu.default"``), which the codec's allow-list holds;
    * ``rule``: its shape rule, by kind (a key of :data:`harness.strategies.shapes.RULES` or of
      :data:`harness.strategies.shapes_more.RULES`);
    * ``gen``: how it is drawn, a factory taking the name and giving its :class:`OpGen`; ``more``: further
      generators of the same op, drawn after all the table's first ones (shrinking goes towards the front);
    * ``program``: its module-program spelling, what an ordinary program writes (``F.gelu(x)``), called with a
      ``harness.strategies.exported.Call`` (the node's arguments with their values, and ``torch``, ``F``, ``nn``);
      None: no ordinary program writes it as it is drawn (an in-place write to an activation, a multi-output op
      read through ``getitem``), and a graph holding it is built, not exported;
    * ``module``: the ``nn.Module`` that owns the op's parameters (``nn.Conv2d``), given the same ``Call`` (the
      owned arguments being their tensors), or None when the arguments do not fit it; ``owns``: the module's
      attribute for each owned argument by position (``(None, "weight", "bias")``), None for an argument it does
      not own; for a list argument, the module's attribute listing the attributes of its tensors in order
      (``nn.GRU``'s ``"_flat_weights_names"``). The module is called with the tensor arguments it does not own (the
      input), leaving out a trailing one that is a ``torch.zeros`` made for that call alone (an initial state the
      module makes itself when none is given);
    * ``stateless``: the modules without parameters a program may call the op through, by ``torch.nn`` class name
      (those of ``harness.case.names.STATELESS_MODULES``): ``(("ReLU", lambda c: c.nn.ReLU()),)``, each given the
      same ``Call`` (tensor arguments as their ``TensorMeta``) and returning None when the arguments do not fit it
      (``nn.ReLU6`` for a hardtanh of other bounds). A generated node names one in ``Node.module``;
    * ``view``: ``"view"`` if the value is (a view of) the first argument, ``"multi"`` if its pieces are,
      ``"overlap"`` if it is a view whose elements share memory (``expand``: never written in place);
    * ``favoured``: drawn twice as often (the ops quantizers care most about).
    """

    name: str
    rule: str
    gen: Callable[[str], OpGen]
    program: Optional[Callable[[Any], Any]] = None
    module: Optional[Callable[[Any], Any]] = None
    owns: tuple[Optional[str], ...] = ()
    stateless: tuple[tuple[str, Callable[[Any], Any]], ...] = ()
    view: str = ""
    favoured: bool = False
    more: tuple[Callable[[str], OpGen], ...] = ()
