"""The state of a graph being drawn: its nodes so far, the value (meta) and contiguity of each, and fresh names.

The rule: every appended op's value is computed with its shape rule (the op table's,
:data:`harness.strategies.op_table.SHAPE_RULES`) as it is drawn, so every drawn graph builds; an operand choice
shrinks towards the most recent value (chains of ops), any other choice towards the first option. Which values are
views of another (and may not be written in place) follows the table's ``view`` facts. ``variants`` turns on the
IR spellings ``torch.export`` itself does not write but a quantizer can meet (list arguments given by keyword,
constants). :class:`OpGen`, :class:`Val` and the shape facts generators share live in
``harness.strategies.gen_base`` (re-exported here).
"""

from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from harness.case import Node, TensorMeta
from harness.case.names import STATELESS_MODULES
from harness.case.walks import refs
from harness.strategies.gen_base import (
    PLACEHOLDER_SHAPES,
    OpGen,
    Val,
    base_name,
    default_trimmed,
    indices,
    numel,
    permuted_contiguous,
    reshape_targets,
)
from harness.strategies.op_table import MULTI_VIEW_OPS, OVERLAP_VIEW_OPS, SHAPE_RULES, VIEW_OPS
from harness.strategies.reuse import BOOLS, ONE_IN_FOUR
from harness.strategies.shapes import FLOAT, Meta

# GraphState, and the names of harness.strategies.gen_base imported above (their home), kept importable from here
__all__ = ["GraphState", "PLACEHOLDER_SHAPES", "OpGen", "Val", "base_name", "default_trimmed", "indices", "numel",
           "permuted_contiguous", "reshape_targets"]

_FX_RESERVED = frozenset(dir(builtins)) | frozenset(keyword.kwlist)


@dataclass
class GraphState:
    """The graph drawn so far, with the meta and contiguity of every value."""

    draw: Callable
    tensor_kwargs: bool
    variants: bool = False  # list arguments by keyword, constants (see the module docstring)
    constants: bool = False  # get_attrs of plain tensor attributes may be drawn (needs ``variants``)
    # ops beyond the first ones (IR_OPS) may be drawn, and so may the first ones' spellings only real quantizers'
    # gates need (max_pool2d's ceil_mode): the prepare campaign's cases, of the first ops only, are drawn as before
    later_ops: bool = False
    attrs: list[Node] = field(default_factory=list)
    inputs: list[Node] = field(default_factory=list)
    body: list[Node] = field(default_factory=list)
    vals: list[Val] = field(default_factory=list)  # operand candidates: inputs and op outputs, oldest first
    meta: Meta = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    n_tensor_kwargs: int = 0
    targets: dict[str, str] = field(default_factory=dict)  # op node -> its target
    multiview: set[str] = field(default_factory=set)  # (views of) a multi-view op's pieces or an overlapping view
    roots: dict[str, str] = field(default_factory=dict)  # a view (or in-place result) -> the value it views
    split_roots: set[str] = field(default_factory=set)  # values (view roots) a multi-view op has split
    focus: Optional[str] = None  # a motif's previous value: the next choose() takes it (harness.strategies.motifs)
    fan_out: list[str] = field(default_factory=list)  # the focus of the next op steps, one each (graphs._op_step)

    # ---- naming and bookkeeping ------------------------------------------------------------
    def fresh(self, base: str) -> str:
        name, i = base, 0
        if base in _FX_RESERVED:  # torch.fx renames a node called "max" (a builtin) to "max_1", as export does
            name, i = f"{base}_1", 1
        while name in self.names:
            i += 1
            name = f"{base}_{i}"
        self.names.add(name)
        return name

    def lookup(self, v) -> TensorMeta:
        return self.meta[v.name]

    def writable(self, v: Val) -> bool:
        """Whether an in-place op may write ``v``: a computed value, and not a view of a graph input (the caller's
        tensor, which an exported graph never writes in place, directly or through a view), not a piece of
        ``split`` & co. nor a view of one, nor (a view of) a value such an op has split, whose pieces may be read
        later (autograd forbids all three)."""
        root = self.roots.get(v.name, v.name)
        return (self.maybe_writable(v) and root not in self.split_roots
                and all(root != i.name for i in self.inputs))

    def maybe_writable(self, v: Val) -> bool:
        """:meth:`writable` without the last rule: whether an in-place generator applies at all. Kept apart so that
        which generators apply, hence the op a case's choices pick, does not change with what ``split`` took
        apart (that would make hypothesis's shrinking of other ops take detours)."""
        return v.name not in self.multiview and v.name in self.targets

    def floats(self, pred: Callable[[Val], bool] = lambda v: True) -> list[Val]:
        return [v for v in self.vals if v.meta.dtype == FLOAT and pred(v)]

    def has(self, pred: Callable[[Val], bool] = lambda v: True) -> bool:
        for v in self.vals:  # a loop, not any() over a generator: called for every generator at every step
            if v.meta.dtype == FLOAT and pred(v):
                return True
        return False

    def applicable(self, gens: Sequence[OpGen]) -> list[OpGen]:
        """The generators of ``gens`` that can take the :attr:`focus` as their operand (judged on a state whose only
        operand is that value); failing those, or with no focus, the ones that apply to the graph at all (then the
        focus may go unused)."""
        focus = [v for v in self.vals if v.name == self.focus] if self.focus is not None else []
        if focus:
            vals, self.vals = self.vals, focus
            try:
                ok = [g for g in gens if g.ok(self)]
            finally:
                self.vals = vals
            if ok:
                return ok
        return [g for g in gens if g.ok(self)]

    def seldom(self) -> bool:
        """True one time in four (shrinking goes to False: the common choice)."""
        return self.draw(ONE_IN_FOUR) == 3

    def pick(self, options: Sequence):
        """One of ``options``, shrinking towards the first."""
        return options[self.draw(indices(len(options)))]

    def choose(self, cands: list[Val]) -> Val:
        """One of ``cands``, shrinking towards the most recent value (chains of ops); the :attr:`focus` (then
        cleared), without a draw, when it is one of them."""
        if self.focus is not None:
            focus, self.focus = self.focus, None
            for v in cands:
                if v.name == focus:
                    return v
        return cands[len(cands) - 1 - self.draw(indices(len(cands)))]

    def attr_kind(self, kinds: Sequence[str] = ("buffer", "parameter")) -> str:
        """One of ``kinds``, or (with constants on) a constant, drawn last so it shrinks away."""
        return self.pick(list(kinds) + (["constant"] if self.variants and self.constants else []))

    def by_keyword(self, args: tuple, names: Sequence[str], first: int = 1) -> tuple[tuple, tuple]:
        """``(args, kwargs)``: with variants on, maybe the arguments from position ``first`` on passed by keyword
        (``names`` are their schema names, in order), else ``(args, ())``."""
        if not self.variants or len(args) <= first or not self.draw(BOOLS):
            return args, ()
        return args[:first], tuple(zip(names, args[first:]))

    def attr(self, base: str, shape: tuple[int, ...], kind: str, reuse: bool = True) -> str:
        """A get_attr of ``shape``: a fresh one, or (drawn) an existing one of that shape and kind (tying)."""
        same = [n for n in self.attrs if n.tensor.shape == shape and n.attr_kind == kind and n.tensor.dtype == FLOAT]
        if reuse and same and self.draw(BOOLS):
            return self.pick(same).name
        name = self.fresh(base)
        self.attrs.append(Node(name, "get_attr", name, tensor=TensorMeta(shape), attr_kind=kind))  # type: ignore[arg-type]
        self.meta[name] = TensorMeta(shape)
        return name

    def index_buffer(self, shape: tuple[int, ...]) -> str:
        """A fresh get_attr of an int64 buffer of ``shape`` (``harness.fx.build`` fills it with 0s and 1s: indices
        valid along any dim of size 2 or more)."""
        name = self.fresh("indices")
        self.attrs.append(Node(name, "get_attr", name, tensor=TensorMeta(shape, "int64"),  # type: ignore[arg-type]
                               attr_kind="buffer"))
        self.meta[name] = TensorMeta(shape, "int64")
        return name

    def emit(self, target: str, args: tuple, kwargs: tuple = (), contiguous: Optional[bool] = None,
             operand: bool = True) -> str:
        """Append a call_function node, computing its value with its shape rule."""
        name = self.fresh(base_name(target))
        node = Node(name, "call_function", target, tuple(args), tuple(kwargs), module=self._module_spelling(target))
        value = SHAPE_RULES[target](name, node.args, dict(node.kwargs), self.lookup)
        for r in refs((args, kwargs)):
            self.used.add(r)
        if any(True for _ in refs(kwargs)):
            self.n_tensor_kwargs += 1
        self.targets[name] = target
        first = next(refs(args), None)
        if target in OVERLAP_VIEW_OPS or (target == "getitem" and self.targets.get(first) in MULTI_VIEW_OPS) or (
                target in VIEW_OPS and first in self.multiview):
            self.multiview.add(name)
        if first is not None and (target in VIEW_OPS or target == "getitem"):
            self.roots[name] = self.roots.get(first, first)
        if first is not None and target in MULTI_VIEW_OPS:
            self.split_roots.add(self.roots.get(first, first))
        self.body.append(node)
        self.meta[name] = value
        if isinstance(value, TensorMeta) and operand:
            if contiguous is None:
                contiguous = all(self._contig(r) for r in refs(args))
            self.vals.append(Val(name, value, contiguous))
        return name

    def _module_spelling(self, target: str) -> str:
        """With the later ops, half the time, one of the modules without parameters the program may call ``target``
        through (``Node.module``: ``nn.ReLU()(x)``, as real code writes it); else ``""``."""
        spellings = STATELESS_MODULES.get(target, ()) if self.later_ops else ()
        return self.pick(spellings) if spellings and self.draw(BOOLS) else ""

    def _contig(self, name: str) -> bool:
        for v in self.vals:
            if v.name == name:
                return v.contiguous
        return True  # get_attrs are contiguous
