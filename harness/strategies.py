"""Hypothesis strategies that generate cases (``harness.case`` data) for fuzzing ``prepare``.

Everything generated is plain ``harness.case`` data, so hypothesis shrinks the data and never a torch object;
``harness.build`` turns it into a ``GraphModule``. The strategies compose:

* :func:`graphs` draws a random DAG in the ATen IR that ``torch.export`` produces (placeholders, parameters and
  buffers as ``get_attr``, fan-out and fan-in, list arguments, multi-output ops with ``getitem`` users,
  shape-changing ops, in-place writes to buffers, several outputs). Every node's shape is tracked while drawing
  with the rules in :data:`SHAPE_RULES`, so every graph builds; :func:`infer_meta` replays those rules on any
  graph made of these ops (the tests compare it with the FakeTensor shapes of the built module).
* :func:`annotations` draws the quantization annotations of a given graph, either ``"valid"`` (what a correct
  quantizer could emit) or ``"adversarial"`` (one injected defect; :func:`adversarial_annotations` also says
  which one, see :data:`ADVERSARIAL_KINDS` and :data:`ERROR_FOR_KIND`).
* :func:`cases` and :func:`adversarial_cases` combine the two; :func:`exported_cases` draws a graph, turns it into a
  real ``torch.nn.Module`` program, exports it with ``torch.export`` and extracts the case from that (slower,
  but exactly the IR a quantizer sees).

Shrinking goes towards small graphs: few op nodes, the simplest ops (``relu`` first), each op consuming the most
recent value, no value used twice by the same op, no ``getitem`` beyond the first, no annotations.

Sizes: the "nodes" of ``min_nodes``/``max_nodes`` are operator nodes (``call_function`` nodes other than
``getitem``); placeholders, ``get_attr`` nodes, ``getitem`` nodes and the output come on top.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator, Mapping, Optional, Sequence, Union

from hypothesis import assume
from hypothesis import strategies as st

from harness.case import (
    Case,
    Ctor,
    DerivedSpec,
    EdgeRef,
    Expected,
    FixedSpec,
    Graph,
    Info,
    Node,
    NodeAnnotation,
    NodeRef,
    QSpec,
    Ref,
    SharedSpec,
    Spec,
    Target,
    TensorMeta,
)

__all__ = [
    "UnsupportedGraph",
    "Meta",
    "SHAPE_RULES",
    "GENERATED_OPS",
    "infer_meta",
    "graphs",
    "annotations",
    "adversarial_annotations",
    "ADVERSARIAL_KINDS",
    "ERROR_FOR_KIND",
    "cases",
    "adversarial_cases",
    "exported_cases",
    "graph_to_module",
    "annotation_items",
    "later_anchored_shares",
    "OBS",
    "FQ",
    "DERIVE_PER_TENSOR",
    "DERIVE_PER_CHANNEL",
]


class UnsupportedGraph(ValueError):
    """A graph that :func:`infer_meta` cannot follow (an op without a shape rule, or a bad argument).

    ``node`` names the node at fault.
    """

    def __init__(self, node: str, reason: str) -> None:
        self.node = node
        super().__init__(f"node {node!r}: {reason}")


# A node's value: a tensor, a list of tensors (``split``), or None (the output node).
Meta = dict[str, Union[TensorMeta, tuple[TensorMeta, ...], None]]

FLOAT = "float32"
MAX_NUMEL = 4096
MAX_RANK = 5


# =================================================================================================
# Shape rules (pure): one per generated op, shared by the generator and by infer_meta
# =================================================================================================


def _norm_dim(d: int, rank: int, node: str) -> int:
    if not -rank <= d < max(rank, 1):
        raise UnsupportedGraph(node, f"dim {d} out of range for rank {rank}")
    return d % rank if rank else 0


def _broadcast(a: tuple[int, ...], b: tuple[int, ...], node: str) -> tuple[int, ...]:
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            raise UnsupportedGraph(node, f"shapes {a} and {b} do not broadcast")
        out.append(max(x, y))
    return tuple(reversed(out))


def _pick(args: tuple, kwargs: Mapping, i: int, key: str, default=None):
    if i < len(args):
        return args[i]
    return kwargs.get(key, default)


def _pair(v, node: str) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) != 2:
        raise UnsupportedGraph(node, f"expected 1 or 2 ints, got {v}")
    return (v[0], v[1])


def _resolve_shape(numel: int, shape: Sequence[int], node: str) -> tuple[int, ...]:
    shape = tuple(shape)
    if shape.count(-1) > 1:
        raise UnsupportedGraph(node, f"more than one -1 in {shape}")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise UnsupportedGraph(node, f"cannot infer -1 in {shape} for {numel} elements")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    if math.prod(shape) != numel:
        raise UnsupportedGraph(node, f"shape {shape} does not hold {numel} elements")
    return shape


Lookup = Callable[[object], TensorMeta]
Rule = Callable[[str, tuple, dict, Lookup], Union[TensorMeta, tuple[TensorMeta, ...]]]


def _unary(node, args, kwargs, t):
    return t(args[0])


def _binary(node, args, kwargs, t, dtype=None):
    a = t(args[0])
    other = _pick(args, kwargs, 1, "other")
    shape = _broadcast(a.shape, t(other).shape, node) if isinstance(other, Ref) else a.shape
    return TensorMeta(shape, dtype or a.dtype)


def _cat(node, args, kwargs, t):
    metas = [t(v) for v in args[0]]
    rank = len(metas[0].shape)
    d = _norm_dim(_pick(args, kwargs, 1, "dim", 0), rank, node)
    for m in metas:
        if len(m.shape) != rank or any(m.shape[i] != metas[0].shape[i] for i in range(rank) if i != d):
            raise UnsupportedGraph(node, f"cat of mismatched shapes {[m.shape for m in metas]}")
    shape = list(metas[0].shape)
    shape[d] = sum(m.shape[d] for m in metas)
    return TensorMeta(tuple(shape), metas[0].dtype)


def _stack(node, args, kwargs, t):
    metas = [t(v) for v in args[0]]
    if any(m.shape != metas[0].shape for m in metas):
        raise UnsupportedGraph(node, f"stack of mismatched shapes {[m.shape for m in metas]}")
    rank = len(metas[0].shape) + 1
    d = _norm_dim(_pick(args, kwargs, 1, "dim", 0), rank, node)
    shape = list(metas[0].shape)
    shape.insert(d, len(metas))
    return TensorMeta(tuple(shape), metas[0].dtype)


def _split(node, args, kwargs, t):
    a = t(args[0])
    size = _pick(args, kwargs, 1, "split_size")
    d = _norm_dim(_pick(args, kwargs, 2, "dim", 0), len(a.shape), node)
    n = a.shape[d]
    out = []
    for start in range(0, n, size):
        shape = list(a.shape)
        shape[d] = min(size, n - start)
        out.append(TensorMeta(tuple(shape), a.dtype))
    return tuple(out)


def _view(node, args, kwargs, t):
    a = t(args[0])
    return TensorMeta(_resolve_shape(math.prod(a.shape), _pick(args, kwargs, 1, "size"), node), a.dtype)


def _permute(node, args, kwargs, t):
    a = t(args[0])
    dims = [_norm_dim(d, len(a.shape), node) for d in args[1]]
    if sorted(dims) != list(range(len(a.shape))):
        raise UnsupportedGraph(node, f"{tuple(args[1])} is not a permutation of rank {len(a.shape)}")
    return TensorMeta(tuple(a.shape[d] for d in dims), a.dtype)


def _flatten(node, args, kwargs, t):
    a = t(args[0])
    rank = len(a.shape)
    if rank == 0:
        return TensorMeta((1,), a.dtype)
    s = _norm_dim(_pick(args, kwargs, 1, "start_dim", 0), rank, node)
    e = _norm_dim(_pick(args, kwargs, 2, "end_dim", -1), rank, node)
    return TensorMeta(a.shape[:s] + (math.prod(a.shape[s : e + 1]),) + a.shape[e + 1 :], a.dtype)


def _conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _conv2d(node, args, kwargs, t):
    x, w = t(args[0]), t(args[1])
    if len(x.shape) != 4 or len(w.shape) != 4:
        raise UnsupportedGraph(node, f"conv2d of {x.shape} with weight {w.shape}")
    stride = _pair(_pick(args, kwargs, 3, "stride", (1, 1)), node)
    pad = _pair(_pick(args, kwargs, 4, "padding", (0, 0)), node)
    dil = _pair(_pick(args, kwargs, 5, "dilation", (1, 1)), node)
    groups = _pick(args, kwargs, 6, "groups", 1)
    if x.shape[1] != w.shape[1] * groups:
        raise UnsupportedGraph(node, f"conv2d: {x.shape[1]} input channels, weight {w.shape}, groups {groups}")
    h = _conv_out(x.shape[2], w.shape[2], stride[0], pad[0], dil[0])
    wd = _conv_out(x.shape[3], w.shape[3], stride[1], pad[1], dil[1])
    if h < 1 or wd < 1:
        raise UnsupportedGraph(node, "conv2d output is empty")
    return TensorMeta((x.shape[0], w.shape[0], h, wd), x.dtype)


def _linear(node, args, kwargs, t):
    x, w = t(args[0]), t(args[1])
    if x.shape[-1] != w.shape[1]:
        raise UnsupportedGraph(node, f"linear of {x.shape} with weight {w.shape}")
    return TensorMeta(x.shape[:-1] + (w.shape[0],), x.dtype)


def _max_pool2d(node, args, kwargs, t):
    x = t(args[0])
    k = _pair(args[1], node)
    s = _pick(args, kwargs, 2, "stride", ())
    s = k if not s else _pair(s, node)
    p = _pair(_pick(args, kwargs, 3, "padding", 0), node)
    d = _pair(_pick(args, kwargs, 4, "dilation", 1), node)
    h, w = (_conv_out(x.shape[-2 + i], k[i], s[i], p[i], d[i]) for i in range(2))
    return TensorMeta(x.shape[:-2] + (h, w), x.dtype)


def _avg_pool2d(node, args, kwargs, t):
    x = t(args[0])
    k = _pair(args[1], node)
    s = _pick(args, kwargs, 2, "stride", ())
    s = k if not s else _pair(s, node)
    p = _pair(_pick(args, kwargs, 3, "padding", 0), node)
    h, w = (_conv_out(x.shape[-2 + i], k[i], s[i], p[i], 1) for i in range(2))
    return TensorMeta(x.shape[:-2] + (h, w), x.dtype)


def _adaptive_avg_pool2d(node, args, kwargs, t):
    x = t(args[0])
    return TensorMeta(x.shape[:-2] + _pair(args[1], node), x.dtype)


def _mean_dim(node, args, kwargs, t):
    x = t(args[0])
    dims = {_norm_dim(d, len(x.shape), node) for d in args[1]}
    keep = _pick(args, kwargs, 2, "keepdim", False)
    shape = tuple(1 if i in dims else s for i, s in enumerate(x.shape) if keep or i not in dims)
    return TensorMeta(shape, x.dtype)


def _mm(node, args, kwargs, t):
    a, b = t(args[0]), t(args[1])
    if len(a.shape) != 2 or len(b.shape) != 2 or a.shape[1] != b.shape[0]:
        raise UnsupportedGraph(node, f"mm of {a.shape} and {b.shape}")
    return TensorMeta((a.shape[0], b.shape[1]), a.dtype)


def _bmm(node, args, kwargs, t):
    a, b = t(args[0]), t(args[1])
    if len(a.shape) != 3 or len(b.shape) != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise UnsupportedGraph(node, f"bmm of {a.shape} and {b.shape}")
    return TensorMeta((a.shape[0], a.shape[1], b.shape[2]), a.dtype)


def _getitem(node, args, kwargs, t):
    seq = t(args[0])
    if not isinstance(seq, tuple):
        raise UnsupportedGraph(node, "getitem of a value that is not a list of tensors")
    return seq[args[1]]


SHAPE_RULES: dict[str, Rule] = {
    "aten.relu.default": _unary,
    "aten.sigmoid.default": _unary,
    "aten.clone.default": _unary,
    "aten.hardtanh.default": _unary,
    "aten.softmax.int": _unary,
    "aten.layer_norm.default": _unary,
    "aten.copy_.default": _unary,
    "aten.add_.Tensor": _unary,
    "aten.add.Tensor": _binary,
    "aten.mul.Tensor": _binary,
    "aten.minimum.default": _binary,
    "aten.eq.Tensor": lambda n, a, k, t: _binary(n, a, k, t, dtype="bool"),
    "aten.cat.default": _cat,
    "aten.stack.default": _stack,
    "aten.split.Tensor": _split,
    "getitem": _getitem,
    "aten.view.default": _view,
    "aten.reshape.default": _view,
    "aten.permute.default": _permute,
    "aten.flatten.using_ints": _flatten,
    "aten.conv2d.default": _conv2d,
    "aten.linear.default": _linear,
    "aten.max_pool2d.default": _max_pool2d,
    "aten.avg_pool2d.default": _avg_pool2d,
    "aten.adaptive_avg_pool2d.default": _adaptive_avg_pool2d,
    "aten.mean.dim": _mean_dim,
    "aten.mm.default": _mm,
    "aten.bmm.default": _bmm,
}


def infer_meta(graph: Graph) -> Meta:
    """The value of every node of ``graph`` by the rules of :data:`SHAPE_RULES` (a pure replay, no torch).

    Raises :class:`UnsupportedGraph` naming the node for an op without a rule or arguments that do not fit.
    """
    meta: Meta = {}

    def lookup(v):
        if not isinstance(v, Ref):
            raise UnsupportedGraph(current, f"expected a node reference, got {v!r}")
        if v.name not in meta:
            raise UnsupportedGraph(current, f"refers to {v.name!r}, which is not defined before it")
        return meta[v.name]

    for node in graph.nodes:
        current = node.name
        if node.op in ("placeholder", "get_attr"):
            if node.tensor is None:
                raise UnsupportedGraph(node.name, f"{node.op} without a tensor")
            meta[node.name] = node.tensor
        elif node.op == "output":
            meta[node.name] = None
        else:
            rule = SHAPE_RULES.get(node.target)
            if rule is None:
                raise UnsupportedGraph(node.name, f"no shape rule for {node.target!r}")
            meta[node.name] = rule(node.name, node.args, dict(node.kwargs), lookup)
    return meta


# =================================================================================================
# Graph generator
# =================================================================================================

PLACEHOLDER_SHAPES: tuple[tuple[int, ...], ...] = ((2, 8), (1, 4, 8, 8), (2, 3, 8), (1, 8, 4, 4))


def _base_name(target: str) -> str:
    return "getitem" if target == "getitem" else target.split(".")[1]


def _default_trimmed(args: list, defaults: Sequence) -> tuple:
    """Drop trailing arguments equal to their schema default (as ``torch.export`` prints them)."""
    n_required = len(args) - len(defaults)
    while len(args) > n_required and args[-1] == defaults[len(args) - 1 - n_required]:
        args.pop()
    return tuple(args)


@dataclass
class _Val:
    name: str
    meta: TensorMeta
    contiguous: bool


@dataclass
class _GraphState:
    """The graph drawn so far, with the meta and contiguity of every value."""

    draw: Callable
    tensor_kwargs: bool
    attrs: list[Node] = field(default_factory=list)
    inputs: list[Node] = field(default_factory=list)
    body: list[Node] = field(default_factory=list)
    vals: list[_Val] = field(default_factory=list)  # operand candidates: inputs and op outputs, oldest first
    meta: Meta = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    n_tensor_kwargs: int = 0

    # ---- naming and bookkeeping ------------------------------------------------------------
    def fresh(self, base: str) -> str:
        name, i = base, 0
        while name in self.names:
            i += 1
            name = f"{base}_{i}"
        self.names.add(name)
        return name

    def lookup(self, v) -> TensorMeta:
        return self.meta[v.name]

    def floats(self, pred: Callable[[_Val], bool] = lambda v: True) -> list[_Val]:
        return [v for v in self.vals if v.meta.dtype == FLOAT and pred(v)]

    def choose(self, cands: list[_Val]) -> _Val:
        """One of ``cands``, shrinking towards the most recent value (chains of ops)."""
        return cands[len(cands) - 1 - self.draw(st.integers(0, len(cands) - 1))]

    def attr(self, base: str, shape: tuple[int, ...], kind: str, reuse: bool = True) -> str:
        """A get_attr of ``shape``: a fresh one, or (drawn) an existing one of that shape and kind (tying)."""
        same = [n for n in self.attrs if n.tensor.shape == shape and n.attr_kind == kind]
        if reuse and same and self.draw(st.booleans()):
            return self.draw(st.sampled_from(same)).name
        name = self.fresh(base)
        self.attrs.append(Node(name, "get_attr", name, tensor=TensorMeta(shape), attr_kind=kind))  # type: ignore[arg-type]
        self.meta[name] = TensorMeta(shape)
        return name

    def emit(self, target: str, args: tuple, kwargs: tuple = (), contiguous: Optional[bool] = None,
             operand: bool = True) -> str:
        """Append a call_function node, computing its value with its shape rule."""
        name = self.fresh(_base_name(target))
        node = Node(name, "call_function", target, tuple(args), tuple(kwargs))
        value = SHAPE_RULES[target](name, node.args, dict(node.kwargs), self.lookup)
        for r in _refs((args, kwargs)):
            self.used.add(r)
        if any(isinstance(v, Ref) for _, v in kwargs):
            self.n_tensor_kwargs += 1
        self.body.append(node)
        self.meta[name] = value
        if isinstance(value, TensorMeta) and operand:
            if contiguous is None:
                contiguous = all(self._contig(r) for r in _refs(args))
            self.vals.append(_Val(name, value, contiguous))
        return name

    def _contig(self, name: str) -> bool:
        for v in self.vals:
            if v.name == name:
                return v.contiguous
        return True  # get_attrs are contiguous


def _refs(x) -> Iterator[str]:
    """Names of the nodes referenced in an argument structure (depth first, in order)."""
    if isinstance(x, Ref):
        yield x.name
    elif isinstance(x, tuple):
        for y in x:
            yield from _refs(y)


def _numel(v: _Val) -> int:
    return math.prod(v.meta.shape)


def _permuted_contiguous(shape: tuple[int, ...], dims: Sequence[int]) -> bool:
    """Whether permuting a contiguous tensor of ``shape`` by ``dims`` gives a contiguous tensor."""
    strides, acc = [0] * len(shape), 1
    for i in reversed(range(len(shape))):
        strides[i] = acc
        acc *= shape[i]
    kept = [strides[d] for d in dims if shape[d] != 1]
    return kept == sorted(kept, reverse=True)


def _reshape_targets(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
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
    return seen


@dataclass(frozen=True)
class _OpGen:
    """How to draw one op: ``ok`` says whether it can be applied to the current graph, ``emit`` appends it."""

    name: str
    ok: Callable[[_GraphState], bool]
    emit: Callable[[_GraphState], None]


def _any_float(s: _GraphState) -> bool:
    return bool(s.floats())


def _gen_unary(target: str, extra: Callable[[_GraphState], tuple] = lambda s: ()) -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats())
        s.emit(target, (Ref(x.name),) + extra(s))

    return _OpGen(target, _any_float, emit)


def _hardtanh_bounds(s: _GraphState) -> tuple:
    return s.draw(st.sampled_from([(), (0.0, 6.0), (-2.0, 2.0)]))


def _gen_binary(target: str) -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats())
        # how to get the second operand; shrinks to another existing value, then a constant
        others = s.floats(lambda v: v.meta.shape == x.meta.shape and v.name != x.name)
        modes = (["value"] if others else []) + ["attr", "broadcast_attr", "same"]
        if target in ("aten.add.Tensor", "aten.mul.Tensor"):  # a Python scalar wraps as a 0-dim tensor
            modes.insert(1, "scalar")
        mode = s.draw(st.sampled_from(modes))
        if mode == "value":
            other: object = Ref(s.choose(others).name)
        elif mode == "scalar":
            other = s.draw(st.sampled_from([1.0, 2.0, 0.5]))
        elif mode == "same":
            other = Ref(x.name)  # add(x, x): one value, two uses
        else:
            shape = x.meta.shape if mode == "attr" else x.meta.shape[-1:]
            other = Ref(s.attr(f"{_base_name(target)}_other", shape, s.draw(st.sampled_from(["buffer", "parameter"]))))
        if s.tensor_kwargs and isinstance(other, Ref) and s.draw(st.booleans()):
            s.emit(target, (Ref(x.name),), (("other", other),))
            return
        alpha = target == "aten.add.Tensor" and isinstance(other, Ref) and s.draw(st.booleans())
        s.emit(target, (Ref(x.name), other), (("alpha", 2),) if alpha else ())

    return _OpGen(target, _any_float, emit)


def _gen_cat() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(lambda v: _numel(v) * 2 <= MAX_NUMEL))
        rank = len(x.meta.shape)
        d = s.draw(st.integers(0, rank - 1))
        n = s.draw(st.integers(2, 4))
        while n > 1 and _numel(x) * n > MAX_NUMEL:
            n -= 1
        members = [x]
        for _ in range(n - 1):
            fits = s.floats(lambda v: len(v.meta.shape) == rank and v.name not in {m.name for m in members}
                            and all(v.meta.shape[i] == x.meta.shape[i] for i in range(rank) if i != d)
                            and sum(_numel(m) for m in members) + _numel(v) <= MAX_NUMEL)
            members.append(s.choose(fits) if fits and not s.draw(st.booleans()) else x)
        dim = d - rank if s.draw(st.booleans()) else d
        s.emit("aten.cat.default", (tuple(Ref(m.name) for m in members),) + ((dim,) if dim else ()))

    return _OpGen("aten.cat.default", lambda s: bool(s.floats(lambda v: _numel(v) * 2 <= MAX_NUMEL)), emit)


def _gen_stack() -> _OpGen:
    def ok_val(v: _Val) -> bool:
        return len(v.meta.shape) < 4 and _numel(v) * 2 <= MAX_NUMEL

    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        others = s.floats(lambda v: v.meta.shape == x.meta.shape and v.name != x.name)
        y = s.choose(others) if others and not s.draw(st.booleans()) else x
        d = s.draw(st.integers(0, len(x.meta.shape)))
        s.emit("aten.stack.default", ((Ref(x.name), Ref(y.name)),) + ((d,) if d else ()))

    return _OpGen("aten.stack.default", lambda s: bool(s.floats(ok_val)), emit)


def _gen_split() -> _OpGen:
    def ok_val(v: _Val) -> bool:
        return any(d >= 2 for d in v.meta.shape)

    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        dims = [i for i, d in enumerate(x.meta.shape) if d >= 2]
        d = dims[s.draw(st.integers(0, len(dims) - 1))]
        size_n = x.meta.shape[d]
        size = s.draw(st.integers(max(1, -(-size_n // 8)), size_n - 1))
        chunks = -(-size_n // size)
        split = s.emit("aten.split.Tensor", (Ref(x.name), size) + ((d,) if d else ()), operand=False)
        picked = sorted(s.draw(st.lists(st.integers(0, chunks - 1), min_size=1, max_size=chunks, unique=True)))
        before = math.prod(x.meta.shape[:d])
        for i in picked:
            s.emit("getitem", (Ref(split), i), contiguous=x.contiguous and before == 1)

    return _OpGen("aten.split.Tensor", lambda s: bool(s.floats(ok_val)), emit)


def _gen_view(target: str) -> _OpGen:
    need_contig = target == "aten.view.default"

    def ok_val(v: _Val) -> bool:
        return (v.contiguous or not need_contig) and bool(_reshape_targets(v.meta.shape))

    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        shape = s.draw(st.sampled_from(_reshape_targets(x.meta.shape)))
        if len(shape) > 1 and s.draw(st.booleans()):
            i = s.draw(st.integers(0, len(shape) - 1))
            shape = shape[:i] + (-1,) + shape[i + 1 :]
        s.emit(target, (Ref(x.name), tuple(shape)), contiguous=x.contiguous)

    return _OpGen(target, lambda s: bool(s.floats(ok_val)), emit)


def _gen_permute() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        dims = tuple(s.draw(st.permutations(range(len(x.meta.shape)))))
        s.emit("aten.permute.default", (Ref(x.name), dims),
               contiguous=x.contiguous and _permuted_contiguous(x.meta.shape, dims))

    return _OpGen("aten.permute.default", lambda s: bool(s.floats(lambda v: len(v.meta.shape) >= 2)), emit)


def _gen_flatten() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        rank = len(x.meta.shape)
        start = s.draw(st.integers(0, rank - 2))
        end = s.draw(st.sampled_from([-1] + list(range(start + 1, rank - 1))))
        s.emit("aten.flatten.using_ints", (Ref(x.name),) + _default_trimmed([start, end], [0, -1]),
               contiguous=x.contiguous)

    return _OpGen("aten.flatten.using_ints", lambda s: bool(s.floats(lambda v: len(v.meta.shape) >= 2)), emit)


def _is_nchw(v: _Val) -> bool:
    return len(v.meta.shape) == 4 and v.meta.shape[1] <= 16


def _gen_conv2d() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(_is_nchw))
        n, c, h, w = x.meta.shape
        k = s.draw(st.sampled_from([1, 3])) if min(h, w) >= 3 else 1
        stride = s.draw(st.sampled_from([1, 2])) if min(h, w) >= 2 else 1
        pad = s.draw(st.sampled_from([0, k // 2])) if k > 1 else 0
        out = s.draw(st.sampled_from([4, 8]))
        groups = c if s.draw(st.booleans()) and c > 1 else 1  # depthwise
        if groups > 1:
            out = c
        weight = s.attr("conv2d_weight", (out, c // groups, k, k), "parameter")
        bias = s.attr("conv2d_bias", (out,), "parameter", reuse=False) if s.draw(st.booleans()) else None
        args = [Ref(x.name), Ref(weight), Ref(bias) if bias else None, (stride, stride), (pad, pad), (1, 1), groups]
        s.emit("aten.conv2d.default", _default_trimmed(args, [None, (1, 1), (0, 0), (1, 1), 1]))

    return _OpGen("aten.conv2d.default", lambda s: bool(s.floats(_is_nchw)), emit)


def _gen_linear() -> _OpGen:
    def ok_val(v: _Val) -> bool:
        return 1 <= len(v.meta.shape) <= 3 and v.meta.shape[-1] <= 64

    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        out = s.draw(st.sampled_from([8, 4, 16]))
        weight = s.attr("linear_weight", (out, x.meta.shape[-1]), "parameter")
        bias = s.attr("linear_bias", (out,), "parameter", reuse=False) if s.draw(st.booleans()) else None
        s.emit("aten.linear.default", (Ref(x.name), Ref(weight)) + ((Ref(bias),) if bias else ()))

    return _OpGen("aten.linear.default", lambda s: bool(s.floats(ok_val)), emit)


def _pool_ok(v: _Val) -> bool:
    return len(v.meta.shape) == 4 and min(v.meta.shape[2:]) >= 2


def _gen_pool(target: str) -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(_pool_ok))
        k = s.draw(st.sampled_from([2, 3])) if min(x.meta.shape[2:]) >= 3 else 2
        stride = s.draw(st.sampled_from([k, 1]))
        pad = s.draw(st.sampled_from([0, 1])) if k == 3 else 0
        args = [Ref(x.name), (k, k), (stride, stride), (pad, pad)]
        s.emit(target, _default_trimmed(args, [(k, k), (0, 0)]))

    return _OpGen(target, lambda s: bool(s.floats(_pool_ok)), emit)


def _gen_adaptive() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) == 4))
        size = s.draw(st.sampled_from([1, 2]))
        s.emit("aten.adaptive_avg_pool2d.default", (Ref(x.name), (size, size)))

    return _OpGen("aten.adaptive_avg_pool2d.default", lambda s: bool(s.floats(lambda v: len(v.meta.shape) == 4)), emit)


def _gen_mean() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        rank = len(x.meta.shape)
        dims = s.draw(st.sampled_from([(-1,), (-1, -2), (rank - 1,)] + ([(2, 3)] if rank == 4 else [])))
        # keep at least one dim: no generated value is 0-dimensional
        keep = s.draw(st.booleans()) or len(dims) >= rank
        s.emit("aten.mean.dim", (Ref(x.name), dims) + ((True,) if keep else ()))

    return _OpGen("aten.mean.dim", lambda s: bool(s.floats(lambda v: len(v.meta.shape) >= 2)), emit)


def _gen_softmax() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats())
        s.emit("aten.softmax.int", (Ref(x.name), s.draw(st.sampled_from([-1, 0]))))

    return _OpGen("aten.softmax.int", _any_float, emit)


def _gen_layer_norm() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        last = x.meta.shape[-1]
        affine = s.draw(st.booleans())
        w = s.attr("layer_norm_weight", (last,), "parameter", reuse=False) if affine else None
        b = s.attr("layer_norm_bias", (last,), "parameter", reuse=False) if affine else None
        if affine and s.tensor_kwargs and s.draw(st.booleans()):
            s.emit("aten.layer_norm.default", (Ref(x.name), (last,)), (("weight", Ref(w)), ("bias", Ref(b))))
            return
        args = [Ref(x.name), (last,), Ref(w) if w else None, Ref(b) if b else None, 1e-05, False]
        s.emit("aten.layer_norm.default", _default_trimmed(args, [None, None, 1e-05, True]))

    return _OpGen("aten.layer_norm.default", lambda s: bool(s.floats(lambda v: len(v.meta.shape) >= 2)), emit)


def _gen_matmul(target: str, rank: int) -> _OpGen:
    def ok_val(v: _Val) -> bool:
        return len(v.meta.shape) == rank and v.meta.shape[-1] <= 64

    def emit(s: _GraphState) -> None:
        a = s.choose(s.floats(ok_val))
        k = a.meta.shape[-1]
        batch = a.meta.shape[:-2]
        others = s.floats(lambda v: len(v.meta.shape) == rank and v.meta.shape[:-2] == batch
                          and v.meta.shape[-2] == k and v.meta.shape[-1] <= 64)
        if others and s.draw(st.booleans()):
            b = s.choose(others).name
        else:
            b = s.attr(f"{_base_name(target)}_weight", batch + (k, s.draw(st.sampled_from([8, 4]))), "parameter")
        s.emit(target, (Ref(a.name), Ref(b)))

    return _OpGen(target, lambda s: bool(s.floats(ok_val)), emit)


def _gen_inplace(target: str) -> _OpGen:
    def emit(s: _GraphState) -> None:
        src = s.choose(s.floats())
        buf = s.attr("buf", src.meta.shape, "buffer")
        # like torch.export: the in-place node's own value is never used
        s.emit(target, (Ref(buf), Ref(src.name)), operand=False)

    return _OpGen(target, _any_float, emit)


# Ordered from simplest to most involved: shrinking goes towards the front.
_OP_GENS: tuple[_OpGen, ...] = (
    _gen_unary("aten.relu.default"),
    _gen_binary("aten.add.Tensor"),
    _gen_unary("aten.sigmoid.default"),
    _gen_binary("aten.mul.Tensor"),
    _gen_unary("aten.clone.default"),
    _gen_unary("aten.hardtanh.default", _hardtanh_bounds),
    _gen_cat(),
    _gen_linear(),
    _gen_conv2d(),
    _gen_view("aten.view.default"),
    _gen_view("aten.reshape.default"),
    _gen_flatten(),
    _gen_permute(),
    _gen_split(),
    _gen_stack(),
    _gen_pool("aten.max_pool2d.default"),
    _gen_pool("aten.avg_pool2d.default"),
    _gen_adaptive(),
    _gen_mean(),
    _gen_softmax(),
    _gen_layer_norm(),
    _gen_binary("aten.minimum.default"),
    _gen_binary("aten.eq.Tensor"),
    _gen_matmul("aten.mm.default", 2),
    _gen_matmul("aten.bmm.default", 3),
    _gen_inplace("aten.copy_.default"),
    _gen_inplace("aten.add_.Tensor"),
)

GENERATED_OPS: tuple[str, ...] = tuple(g.name for g in _OP_GENS)
# Drawn twice as often: the ops quantizers care most about (weights, biases, sharing through cat).
_FAVOURED = ("aten.conv2d.default", "aten.linear.default", "aten.cat.default")


@st.composite
def _op_step(draw, s: _GraphState, gens: Sequence[_OpGen]) -> None:
    """Draw and append one op to ``s`` (a strategy so that each op's choices form one span)."""
    s.draw = draw
    ok = [g for g in gens if g.ok(s)]
    gen = draw(st.sampled_from(ok + [g for g in ok if g.name in _FAVOURED]))
    gen.emit(s)


def _output_node(names: Sequence[str]) -> Node:
    return Node("output", "output", args=(tuple(Ref(n) for n in names),))


@st.composite
def graphs(
    draw,
    min_nodes: int = 1,
    max_nodes: int = 24,
    ops: Optional[Iterable[str]] = None,
    tensor_kwargs: bool = False,
) -> Graph:
    """Random DAGs of ``min_nodes``..``max_nodes`` operator nodes drawn from ``ops`` (default: all of
    :data:`GENERATED_OPS`).

    Graphs have 1-3 float placeholders and end with an output of 1-3 values (the values nothing uses, newest
    first). With ``tensor_kwargs`` some ops pass a tensor as keyword argument (``add(x, other=y)``,
    ``layer_norm(x, [8], weight=w, bias=b)``), and at least one does: an adversarial feature, since prepare cannot
    observe kwargs.
    """
    allowed = set(GENERATED_OPS if ops is None else ops)
    unknown = allowed - set(GENERATED_OPS) - {"getitem"}
    if unknown:
        raise ValueError(f"graphs(): no generator for ops {sorted(unknown)}; known: {list(GENERATED_OPS)}")
    gens = [g for g in _OP_GENS if g.name in allowed]
    if not gens:
        raise ValueError("graphs(): no op to draw from")
    s = _GraphState(draw=draw, tensor_kwargs=tensor_kwargs)

    def add_input(shape: tuple[int, ...]) -> None:
        name = s.fresh("xyz"[len(s.inputs)] if len(s.inputs) < 3 else "x")
        s.inputs.append(Node(name, "placeholder", tensor=TensorMeta(shape)))
        s.meta[name] = TensorMeta(shape)
        s.vals.append(_Val(name, TensorMeta(shape), True))

    def usable(shape: tuple[int, ...]) -> bool:
        probe = _GraphState(draw=draw, tensor_kwargs=False, vals=[_Val("p", TensorMeta(shape), True)])
        return any(g.ok(probe) for g in gens)

    first = [sh for sh in PLACEHOLDER_SHAPES if usable(sh)]
    if not first:
        raise ValueError(f"graphs(): none of the placeholder shapes {PLACEHOLDER_SHAPES} fits ops {sorted(allowed)}")
    add_input(draw(st.sampled_from(first)))
    for shape in draw(st.lists(st.sampled_from(PLACEHOLDER_SHAPES), max_size=2)):
        add_input(shape)

    # One span per op with a continue flag in front (not a count drawn up front): the shrinker can then
    # delete any op, not only the last ones. The flag continues with probability 15/16.
    n = 0
    while n < max_nodes and (n < min_nodes or draw(st.integers(0, 15)) != 0):
        draw(_op_step(s, gens))
        n += 1
    s.draw = draw
    if tensor_kwargs and not s.n_tensor_kwargs:
        x = s.floats()[-1]
        s.emit("aten.add.Tensor", (Ref(x.name),), (("other", Ref(x.name)),))

    sinks = [n.name for n in reversed(s.body) if n.name not in s.used and isinstance(s.meta[n.name], TensorMeta)
             and n.name in {v.name for v in s.vals}]
    rest = [v.name for v in reversed(s.vals) if v.name not in sinks]
    k = draw(st.integers(1, 3))
    outs = sinks[:k]
    while len(outs) < k and rest:
        outs.append(rest.pop(draw(st.integers(0, len(rest) - 1))))
    if not outs:
        outs = [s.vals[-1].name]
    return Graph(tuple(s.attrs) + tuple(s.inputs) + tuple(s.body) + (_output_node(outs),))


# =================================================================================================
# Annotations
# =================================================================================================

_OBS = "torchao.quantization.pt2e.observer."
_FQ = "torchao.quantization.pt2e.fake_quantize."
OBS = {n: Ctor(_OBS + n) for n in (
    "MinMaxObserver", "MovingAverageMinMaxObserver", "HistogramObserver", "PerChannelMinMaxObserver",
    "MovingAveragePerChannelMinMaxObserver", "PlaceholderObserver")}
FQ = {n: Ctor(_FQ + n) for n in ("FakeQuantize", "FusedMovingAvgObsFakeQuantize")}
DERIVE_PER_TENSOR = "harness.derive.bias_qparams_per_tensor"
DERIVE_PER_CHANNEL = "harness.derive.bias_qparams_per_channel"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

# Annotated values produced by these ops lie in [0, 1]: a FixedQParams spec fits them.
_UNIT_RANGE_OPS = ("aten.sigmoid.default", "aten.softmax.int")
_WEIGHTED_OPS = ("aten.conv2d.default", "aten.linear.default")


@dataclass(frozen=True)
class _Item:
    """Something an annotation can attach a spec to: an input edge or a node output, with its role."""

    target: Target
    node: str  # the annotated node
    role: str  # "act", "weight" or "bias"
    meta: TensorMeta


def _is_float(v) -> bool:
    return isinstance(v, TensorMeta) and v.dtype == FLOAT


def _has_tensor_kwarg(node: Node) -> bool:
    return any(True for _, v in node.kwargs for _ in _refs((v,)))


def _edge_role(graph_node: Node, arg: str, by_name: Mapping[str, Node]) -> str:
    if graph_node.target in _WEIGHTED_OPS and by_name[arg].op == "get_attr":
        args = graph_node.args
        if len(args) > 1 and args[1] == Ref(arg):
            return "weight"
        if len(args) > 2 and args[2] == Ref(arg):
            return "bias"
    return "act"


def _items_by_node(graph: Graph, meta: Meta, with_tensor_kwargs: bool = False) -> dict[str, list[_Item]]:
    by_name = {n.name: n for n in graph.nodes}
    out: dict[str, list[_Item]] = {}
    for n in graph.nodes:
        if n.op != "call_function" or (_has_tensor_kwarg(n) and not with_tensor_kwargs):
            continue
        items = []
        seen: set[str] = set()
        for a in _refs(n.args):
            if a not in seen and _is_float(meta.get(a)):
                seen.add(a)
                items.append(_Item(EdgeRef(a, n.name), n.name, _edge_role(n, a, by_name), meta[a]))  # type: ignore[arg-type]
        if _is_float(meta.get(n.name)):
            items.append(_Item(NodeRef(n.name), n.name, "act", meta[n.name]))  # type: ignore[arg-type]
        out[n.name] = items
    return out


def annotation_items(graph: Graph, meta: Optional[Meta] = None) -> list[Target]:
    """Every edge and output a valid annotation of ``graph`` may attach a spec to, in annotation order.

    Edges are the distinct float-tensor positional arguments of a ``call_function`` node (``add(x, x)`` has one
    edge), outputs those of nodes whose value is a float tensor (a ``getitem``, not the ``split`` list).
    Nodes that take a tensor keyword argument are left out (annotating them is an error).
    """
    meta = infer_meta(graph) if meta is None else meta
    return [i.target for items in _items_by_node(graph, meta).values() for i in items]


# ---- spec drawing ------------------------------------------------------------------------------

_ACT_RANGES = (
    ("int8", -128, 127), ("uint8", 0, 255), ("int8", None, None), ("int8", -127, 127), ("uint8", None, None),
    ("int16", -32768, 32767), ("int16", -32767, 32767),
)


@st.composite
def _act_observer(draw, is_qat: bool) -> Ctor:
    if is_qat and draw(st.integers(0, 3)):
        return draw(st.sampled_from([
            Ctor(FQ["FakeQuantize"].qualname, (("observer", OBS["MovingAverageMinMaxObserver"]),)),
            FQ["FusedMovingAvgObsFakeQuantize"],
            Ctor(FQ["FakeQuantize"].qualname, (("observer", OBS["MinMaxObserver"]),)),
        ]))
    ctor = draw(st.sampled_from([OBS["MinMaxObserver"], OBS["HistogramObserver"], OBS["MovingAverageMinMaxObserver"]]))
    if draw(st.booleans()):
        ctor = Ctor(ctor.qualname, (("eps", 2.0**-12),))
    return ctor


@st.composite
def _act_qspec(draw, is_qat: bool) -> QSpec:
    """An activation spec: per-tensor, any of int8/uint8/int16, full or restricted range; rarely dynamic."""
    dtype, lo, hi = draw(st.sampled_from(_ACT_RANGES))
    if not is_qat and draw(st.integers(0, 29)) == 0:
        return QSpec(dtype="int8", observer=OBS["PlaceholderObserver"], quant_min=-128, quant_max=127,
                     qscheme="per_tensor_affine", is_dynamic=True)
    schemes = ["per_tensor_affine"] + (["per_tensor_symmetric"] if dtype != "uint8" else [])
    return QSpec(dtype=dtype, observer=draw(_act_observer(is_qat)), quant_min=lo, quant_max=hi,
                 qscheme=draw(st.sampled_from(schemes)))


@st.composite
def _weight_qspec(draw, is_qat: bool, rank: int) -> QSpec:
    """A weight spec: int8 symmetric, per-channel (in-range ``ch_axis``, a PerChannel observer) or per-tensor."""
    lo = draw(st.sampled_from([-127, -128]))
    if draw(st.booleans()):
        ch = draw(st.integers(0, rank - 1)) if draw(st.integers(0, 3)) == 0 else 0
        if is_qat:
            observer = Ctor(FQ["FakeQuantize"].qualname,
                            (("observer", OBS["MovingAveragePerChannelMinMaxObserver"]), ("ch_axis", ch)))
        else:
            observer = draw(st.sampled_from([OBS["PerChannelMinMaxObserver"],
                                             OBS["MovingAveragePerChannelMinMaxObserver"]]))
        return QSpec(dtype="int8", observer=observer, quant_min=lo, quant_max=127,
                     qscheme="per_channel_symmetric", ch_axis=ch)
    if is_qat:
        observer = Ctor(FQ["FakeQuantize"].qualname, (("observer", OBS["MovingAverageMinMaxObserver"]),))
    else:
        observer = OBS["MinMaxObserver"]
    return QSpec(dtype="int8", observer=observer, quant_min=lo, quant_max=127, qscheme="per_tensor_symmetric")


def _fixed_spec(dtype: str) -> FixedSpec:
    if dtype == "uint8":
        return FixedSpec(dtype="uint8", scale=1.0 / 256.0, zero_point=0, quant_min=0, quant_max=255,
                         qscheme="per_tensor_affine")
    return FixedSpec(dtype="int8", scale=1.0 / 256.0, zero_point=-128, quant_min=-128, quant_max=127,
                     qscheme="per_tensor_affine")


def _bias_derived(act: Target, weight: Target, per_channel: bool, lo: int = INT32_MIN) -> DerivedSpec:
    return DerivedSpec(
        derived_from=(act, weight),
        derive_fn=DERIVE_PER_CHANNEL if per_channel else DERIVE_PER_TENSOR,
        dtype="int32",
        quant_min=lo,
        quant_max=INT32_MAX,
        qscheme="per_channel_symmetric" if per_channel else "per_tensor_symmetric",
        ch_axis=0 if per_channel else None,
    )


# ---- a mutable annotation set, turned into case data at the end ----------------------------------


@dataclass
class _Ann:
    inputs: dict[str, Optional[Spec]] = field(default_factory=dict)
    output: Optional[Spec] = None
    allow: bool = True


class _AnnSet:
    """Annotations being drawn: node -> inputs (insertion-ordered), output and allow_implicit_sharing."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.anns: dict[str, _Ann] = {}

    def ann(self, node: str, allow: bool = True) -> _Ann:
        if node not in self.anns:
            self.anns[node] = _Ann(allow=allow)
        return self.anns[node]

    def set(self, target: Target, spec: Optional[Spec], allow: bool = True) -> None:
        if isinstance(target, EdgeRef):
            self.ann(target.node, allow).inputs[target.arg] = spec
        else:
            self.ann(target.name, allow).output = spec

    def spec(self, target: Target) -> Optional[Spec]:
        if isinstance(target, EdgeRef):
            a = self.anns.get(target.node)
            return a.inputs.get(target.arg) if a else None
        a = self.anns.get(target.name)
        return a.output if a else None

    def remove(self, target: Target) -> None:
        if isinstance(target, EdgeRef):
            a = self.anns.get(target.node)
            if a:
                a.inputs.pop(target.arg, None)
        elif target.name in self.anns:
            self.anns[target.name].output = None

    def keys(self) -> list[Target]:
        """Targets that carry a (non-None) spec, in annotation order."""
        out: list[Target] = []
        for n in self.graph.nodes:
            a = self.anns.get(n.name)
            if a is None:
                continue
            out.extend(EdgeRef(arg, n.name) for arg, spec in a.inputs.items() if spec is not None)
            if a.output is not None:
                out.append(NodeRef(n.name))
        return out

    def freeze(self) -> tuple[NodeAnnotation, ...]:
        return tuple(
            NodeAnnotation(n.name, tuple(self.anns[n.name].inputs.items()), self.anns[n.name].output,
                           self.anns[n.name].allow)
            for n in self.graph.nodes
            if n.name in self.anns
        )


def _position(keys: Sequence[Target]) -> dict[Target, int]:
    return {k: i for i, k in enumerate(keys)}


@st.composite
def _valid_set(draw, graph: Graph, meta: Meta, allow_implicit_sharing, is_qat: bool, sharing_order: str) -> _AnnSet:
    items_by_node = _items_by_node(graph, meta)
    anns = _AnnSet(graph)
    chosen: list[_Item] = []
    for node, items in items_by_node.items():
        if not draw(st.booleans()):
            continue  # not annotated
        ann = anns.ann(node, draw(allow_implicit_sharing))
        # every edge and the output, as quantizers mostly do (conv/linear more often); else a random part
        full = draw(st.booleans()) or (graph.node(node).target in _WEIGHTED_OPS and draw(st.booleans()))
        for item in items:
            if full:
                how = "spec"
            else:
                how = draw(st.sampled_from(["skip", "spec", "none"] if isinstance(item.target, EdgeRef)
                                           else ["skip", "spec"]))
            if how == "none":
                ann.inputs[item.target.arg] = None  # type: ignore[union-attr]
            elif how == "spec":
                if isinstance(item.target, EdgeRef):
                    ann.inputs[item.target.arg] = None  # reserve the slot (input order), the spec comes below
                chosen.append(item)
    act_palette = draw(st.lists(_act_qspec(is_qat), min_size=1, max_size=3))
    order = list(chosen) if sharing_order == "earlier" else list(draw(st.permutations(chosen)))
    # bias edges last: a derived bias needs its activation and weight specs decided
    order = [i for i in order if i.role != "bias"] + [i for i in order if i.role == "bias"]
    root: dict[Target, Spec] = {}  # item -> the concrete spec its sharing chain ends at
    shareable: list[_Item] = []
    for item in order:
        spec: Spec
        if item.role == "weight":
            spec = draw(_weight_qspec(is_qat, len(item.meta.shape)))
            root[item.target] = spec
        elif item.role == "bias":
            spec = _draw_bias(draw, item, graph, root, is_qat)
            if spec is None:
                anns.set(item.target, None)
                continue
            root[item.target] = spec if not isinstance(spec, SharedSpec) else root[spec.target]
        else:
            kinds = ["qspec"]
            if shareable:
                kinds.append("shared")
            node = graph.node(item.node)
            if isinstance(item.target, NodeRef) and node.target in _UNIT_RANGE_OPS:
                kinds.append("fixed")
            kind = draw(st.sampled_from(kinds))
            if kind == "shared":
                target = shareable[len(shareable) - 1 - draw(st.integers(0, len(shareable) - 1))]
                spec = SharedSpec(target.target)
                root[item.target] = root[target.target]
            elif kind == "fixed":
                spec = _fixed_spec(draw(st.sampled_from(["uint8", "int8"])))
                root[item.target] = spec
            else:
                spec = act_palette[draw(st.integers(0, len(act_palette) - 1))]
                root[item.target] = spec
            if not getattr(root[item.target], "is_dynamic", False):
                shareable.append(item)
        anns.set(item.target, spec)
    return anns


def _draw_bias(draw, item: _Item, graph: Graph, root: Mapping[Target, Spec], is_qat: bool) -> Optional[Spec]:
    """A conv/linear bias spec: derived from the activation and weight edges when both are quantized, else an
    int32 per-tensor spec, or None."""
    node = graph.node(item.node)
    act = EdgeRef(node.args[0].name, node.name)
    weight = EdgeRef(node.args[1].name, node.name)
    a, w = root.get(act), root.get(weight)
    options = ["qspec", "none"]
    derivable = (isinstance(a, (QSpec, FixedSpec)) and not a.is_dynamic and isinstance(w, QSpec)
                 and (w.qscheme == "per_tensor_symmetric" or w.ch_axis == 0))
    if derivable:
        options[:0] = ["derived", "derived"]  # what quantizers do for a bias
    how = draw(st.sampled_from(options))
    if how == "derived":
        return _bias_derived(act, weight, per_channel=w.qscheme == "per_channel_symmetric")  # type: ignore[union-attr]
    if how == "qspec":
        return QSpec(dtype="int32", observer=OBS["MinMaxObserver"], quant_min=INT32_MIN, quant_max=INT32_MAX,
                     qscheme="per_tensor_symmetric")
    return None


# ---- adversarial injections ----------------------------------------------------------------------

ADVERSARIAL_KINDS: tuple[str, ...] = (
    "dangling_shared",
    "dangling_derived",
    "shared_cycle",
    "self_reference",
    "derived_cycle",
    "not_an_input",
    "tensor_kwarg",
)

# The prepare_impl error class a correct prepare raises for a case with exactly this one defect.
ERROR_FOR_KIND: dict[str, str] = {
    "dangling_shared": "DanglingReferenceError",
    "dangling_derived": "DanglingReferenceError",
    "shared_cycle": "CyclicSharingError",
    "self_reference": "CyclicSharingError",
    "derived_cycle": "DerivedCycleError",
    "not_an_input": "NotAnInputError",
    "tensor_kwarg": "TensorKwargError",
}

# A quant range no valid spec uses, so an injected derived spec never shares implicitly with another key
# (it must stay the concrete spec of its own group for its defect to matter).
_DISTINCT_LO = INT32_MIN + 1


def _injected_derived(sources: tuple[Target, ...]) -> DerivedSpec:
    return DerivedSpec(derived_from=sources, derive_fn=DERIVE_PER_TENSOR, dtype="int32", quant_min=_DISTINCT_LO,
                       quant_max=INT32_MAX, qscheme="per_tensor_symmetric")


def _applicable_kinds(graph: Graph, items: Sequence[_Item], kinds: Sequence[str]) -> list[str]:
    out = []
    for k in kinds:
        if k == "tensor_kwarg":
            if any(_has_tensor_kwarg(n) for n in graph.nodes if n.op == "call_function"):
                out.append(k)
        elif k == "shared_cycle":
            if len(items) >= 2:
                out.append(k)
        elif k == "not_an_input":
            if any(n.op == "call_function" and not _has_tensor_kwarg(n) for n in graph.nodes):
                out.append(k)
        elif items:
            out.append(k)
    return out


def _inject(draw, kind: str, anns: _AnnSet, graph: Graph, meta: Meta, items: list[_Item], is_qat: bool,
            allow_implicit_sharing) -> None:
    def pick(pool: Sequence, n: int = 1) -> list:
        idx = draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n, unique=True))
        return [pool[i] for i in idx]

    if kind in ("dangling_shared", "dangling_derived"):
        (referrer,) = pick(items)
        outside = [NodeRef(n.name) for n in graph.nodes if n.op in ("placeholder", "get_attr")]
        pool = [i.target for i in items if i.target != referrer.target] + outside
        (target,) = pick(pool)
        anns.remove(target)  # whatever spec it had: it must carry none
        spec: Spec = SharedSpec(target) if kind == "dangling_shared" else _injected_derived((target,))
        anns.set(referrer.target, spec, draw(allow_implicit_sharing))
    elif kind in ("shared_cycle", "self_reference", "derived_cycle"):
        lo = 2 if kind == "shared_cycle" else 1
        hi = 1 if kind == "self_reference" else min(4, len(items))
        ring = pick(items, draw(st.integers(lo, hi)))
        for i, item in enumerate(ring):
            nxt = ring[(i + 1) % len(ring)].target
            spec = _injected_derived((nxt,)) if kind == "derived_cycle" else SharedSpec(nxt)
            anns.set(item.target, spec, draw(allow_implicit_sharing))
    elif kind == "not_an_input":
        nodes = [n for n in graph.nodes if n.op == "call_function" and not _has_tensor_kwarg(n)]
        (node,) = pick(nodes)
        inputs = set(_refs((node.args, node.kwargs)))
        strangers = [n.name for n in graph.nodes if n.op != "output" and n.name not in inputs]
        (stranger,) = pick(strangers)
        ann = anns.ann(node.name, draw(allow_implicit_sharing))
        ann.inputs.pop(stranger, None)
        ann.inputs[stranger] = draw(_act_qspec(is_qat))
    elif kind == "tensor_kwarg":
        nodes = [n for n in graph.nodes if n.op == "call_function" and _has_tensor_kwarg(n)]
        (node,) = pick(nodes)
        ann = anns.ann(node.name, draw(allow_implicit_sharing))
        if _is_float(meta.get(node.name)) and draw(st.booleans()):
            ann.output = draw(_act_qspec(is_qat))
        else:
            first = next(_refs(node.args))
            ann.inputs[first] = draw(_act_qspec(is_qat))
    else:
        raise ValueError(f"unknown adversarial kind {kind!r}; known: {ADVERSARIAL_KINDS}")


@st.composite
def adversarial_annotations(
    draw,
    graph: Graph,
    kinds: Optional[Sequence[str]] = None,
    allow_implicit_sharing: st.SearchStrategy[bool] = st.booleans(),
    is_qat: bool = False,
    meta: Optional[Meta] = None,
) -> tuple[tuple[NodeAnnotation, ...], str]:
    """Valid annotations of ``graph`` with exactly one defect injected: ``(annotations, kind)``.

    ``kind`` is one of :data:`ADVERSARIAL_KINDS` (restricted to ``kinds``, and to what ``graph`` allows:
    ``"tensor_kwarg"`` needs a node with a tensor kwarg, see ``graphs(tensor_kwargs=True)``);
    :data:`ERROR_FOR_KIND` names the error a correct prepare raises for it.
    """
    meta = infer_meta(graph) if meta is None else meta
    kinds = tuple(ADVERSARIAL_KINDS if kinds is None else kinds)
    items = [i for its in _items_by_node(graph, meta).values() for i in its]
    possible = _applicable_kinds(graph, items, kinds)
    if not possible:
        raise ValueError(f"none of the adversarial kinds {kinds} applies to this graph")
    kind = draw(st.sampled_from(possible))
    anns = draw(_valid_set(graph, meta, allow_implicit_sharing, is_qat, "any"))
    _inject(draw, kind, anns, graph, meta, items, is_qat, allow_implicit_sharing)
    return anns.freeze(), kind


def annotations(
    graph: Graph,
    mode: str = "valid",
    allow_implicit_sharing: st.SearchStrategy[bool] = st.booleans(),
    is_qat: bool = False,
    sharing_order: str = "any",
    meta: Optional[Meta] = None,
) -> st.SearchStrategy[tuple[NodeAnnotation, ...]]:
    """Quantization annotations of ``graph``.

    ``mode="valid"``: what a correct quantizer could emit. Every spec kind appears: ``QSpec`` (int8, uint8, int16
    activations, full and restricted ranges, per-tensor affine/symmetric, rarely dynamic; int8 per-channel or
    per-tensor weights; int32 biases), ``SharedSpec`` to edges and outputs in chains and trees,
    ``DerivedSpec`` (conv/linear bias from the activation and weight edges) and ``FixedSpec`` (sigmoid and softmax
    outputs). Some nodes stay unannotated, some edges are left out or mapped to ``None``. Every reference targets
    an annotated edge or output and sharing has no cycle. Observers are fake quants when ``is_qat``.
    ``sharing_order="earlier"`` makes every ``SharedSpec`` target come earlier in annotation order than its
    referrer (torchao's prepare asserts otherwise, pytorch/ao#4421); ``"any"`` also draws later targets.

    ``mode="adversarial"``: valid annotations with one injected defect (:func:`adversarial_annotations` also
    returns which one).

    ``meta`` gives node values (name -> ``TensorMeta`` / tuple / None) for graphs :func:`infer_meta` cannot
    follow, e.g. ones extracted from ``torch.export``.
    """
    if sharing_order not in ("any", "earlier"):
        raise ValueError(f"sharing_order must be 'any' or 'earlier', got {sharing_order!r}")
    meta = infer_meta(graph) if meta is None else meta
    if mode == "valid":
        return _valid_set(graph, meta, allow_implicit_sharing, is_qat, sharing_order).map(lambda a: a.freeze())
    if mode == "adversarial":
        return adversarial_annotations(graph, None, allow_implicit_sharing, is_qat, meta).map(lambda t: t[0])
    raise ValueError(f"mode must be 'valid' or 'adversarial', got {mode!r}")


# ---- whole cases ---------------------------------------------------------------------------------


def _as_strategy(x) -> st.SearchStrategy:
    return x if isinstance(x, st.SearchStrategy) else st.just(x)


@st.composite
def cases(
    draw,
    mode: str = "valid",
    is_qat: Union[bool, st.SearchStrategy[bool]] = st.booleans(),
    min_nodes: int = 1,
    max_nodes: int = 12,
    ops: Optional[Iterable[str]] = None,
    allow_implicit_sharing: st.SearchStrategy[bool] = st.booleans(),
    sharing_order: str = "any",
) -> Case:
    """A graph from :func:`graphs` with annotations from :func:`annotations` (``mode`` valid or adversarial).

    Adversarial cases carry ``expected=Expected(error=...)`` and their kind in ``info.tags``.
    """
    if mode == "adversarial":
        return draw(adversarial_cases(None, is_qat, min_nodes, max_nodes, ops, allow_implicit_sharing))[0]
    qat = draw(_as_strategy(is_qat))
    graph = draw(graphs(min_nodes, max_nodes, ops))
    anns = draw(annotations(graph, mode, allow_implicit_sharing, qat, sharing_order))
    return Case(graph, anns, is_qat=qat, info=Info(title="generated", kind="scenario", tags=("generated", mode)))


@st.composite
def adversarial_cases(
    draw,
    kinds: Optional[Sequence[str]] = None,
    is_qat: Union[bool, st.SearchStrategy[bool]] = st.booleans(),
    min_nodes: int = 1,
    max_nodes: int = 12,
    ops: Optional[Iterable[str]] = None,
    allow_implicit_sharing: st.SearchStrategy[bool] = st.booleans(),
) -> tuple[Case, str]:
    """``(case, kind)``: a generated case with exactly one injected defect of ``kind`` (see
    :data:`ADVERSARIAL_KINDS`); ``case.expected.error`` is the error a correct prepare raises for it."""
    kinds = tuple(ADVERSARIAL_KINDS if kinds is None else kinds)
    unknown = set(kinds) - set(ADVERSARIAL_KINDS)
    if unknown or not kinds:
        raise ValueError(f"unknown adversarial kinds {sorted(unknown)}; known: {ADVERSARIAL_KINDS}")
    qat = draw(_as_strategy(is_qat))
    want_kwargs = "tensor_kwarg" in kinds and (len(kinds) == 1 or draw(st.booleans()))
    graph = draw(graphs(min_nodes, max_nodes, ops, tensor_kwargs=want_kwargs))
    meta = infer_meta(graph)
    items = [i for its in _items_by_node(graph, meta).values() for i in its]
    possible = _applicable_kinds(graph, items, kinds)
    assume(bool(possible))
    anns, kind = draw(adversarial_annotations(graph, possible, allow_implicit_sharing, qat, meta))
    case = Case(graph, anns, is_qat=qat, expected=Expected(error=ERROR_FOR_KIND[kind]),
                info=Info(title=f"adversarial: {kind}", kind="scenario", tags=("generated", "adversarial", kind)))
    return case, kind


def later_anchored_shares(case: Case) -> list[tuple[Target, Target]]:
    """``(referrer, target)`` of every ``SharedSpec`` whose target comes later in annotation order.

    Such sharing is valid, but torchao's prepare builds each group's observer from its first member in annotation
    order and asserts when that member is a ``SharedSpec`` whose target has no observer yet (pytorch/ao#4421).
    """
    anns = _AnnSet(case.graph)
    for a in case.annotations:
        anns.anns[a.node] = _Ann(dict(a.inputs), a.output, a.allow_implicit_sharing)
    keys = anns.keys()
    pos = _position(keys)
    out = []
    for k in keys:
        spec = anns.spec(k)
        if isinstance(spec, SharedSpec) and pos.get(spec.target, -1) > pos[k]:
            out.append((k, spec.target))
    return out


# =================================================================================================
# Exported programs: the IR a quantizer really sees
# =================================================================================================


def _fetch(root, target: str):
    obj = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def graph_to_module(graph: Graph, seed: int = 0):
    """An ordinary ``torch.nn.Module`` program computing ``graph`` with everyday torch code.

    Conv2d/Linear/LayerNorm whose parameters belong to one node become ``nn.Conv2d``/``nn.Linear``/
    ``nn.LayerNorm`` submodules (named after the node); other parameters and buffers are attributes, and ops
    are written as users write them (``torch.relu(x)``, ``x + y``, ``x.view(...)``, ``torch.cat``,
    ``F.max_pool2d``, ``self.buf.copy_(y)``...). Parameter values are those ``harness.build`` gives for ``seed``.
    ``torch.export`` of it produces ATen IR close to, but not the same as, the graph (its own names, attribute
    paths and argument spelling). Graphs with tensor kwargs are rejected (export moves them to positions).
    """
    import torch

    from harness.build import build_module

    if any(_has_tensor_kwarg(n) for n in graph.nodes if n.op == "call_function"):
        raise UnsupportedGraph(next(n.name for n in graph.nodes if _has_tensor_kwarg(n)),
                               "tensor kwargs cannot be written as a module program")
    values = build_module(graph, seed)
    return _GraphProgram(graph, {n.name: _fetch(values, n.target) for n in graph.nodes if n.op == "get_attr"})


def _users(graph: Graph) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {n.name: [] for n in graph.nodes}
    for n in graph.nodes:
        for r in _refs((n.args, n.kwargs)):
            users[r].append(n.name)
    return users


def _module_for(node: Node, attrs: Mapping[str, object], users: Mapping[str, list[str]]):
    """An nn.Conv2d / nn.Linear / nn.LayerNorm owning ``node``'s parameters, or None if they are shared."""
    import torch

    params = [a for a in node.args if isinstance(a, Ref) and a.name in attrs]
    if not params or any(users[p.name] != [node.name] for p in params):
        return None
    if any(not isinstance(attrs[p.name], torch.nn.Parameter) for p in params):
        return None
    args = node.args
    if node.target == "aten.conv2d.default":
        w = attrs[args[1].name]
        b = args[2] if len(args) > 2 else None
        groups = _pick(args, {}, 6, "groups", 1)
        mod = torch.nn.Conv2d(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]),
                              stride=_pick(args, {}, 3, "stride", (1, 1)), padding=_pick(args, {}, 4, "padding", (0, 0)),
                              dilation=_pick(args, {}, 5, "dilation", (1, 1)), groups=groups, bias=b is not None)
    elif node.target == "aten.linear.default":
        w = attrs[args[1].name]
        b = args[2] if len(args) > 2 else None
        mod = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
    elif node.target == "aten.layer_norm.default":
        if len(args) < 4 or not isinstance(args[2], Ref) or not isinstance(args[3], Ref):
            return None
        w, b = attrs[args[2].name], args[3]
        mod = torch.nn.LayerNorm(tuple(args[1]), eps=_pick(args, {}, 4, "eps", 1e-5))
    else:
        return None
    with torch.no_grad():
        mod.weight.copy_(w)
        if b is not None:
            mod.bias.copy_(attrs[b.name])
    return mod


class _ProgramBase:
    pass


def _program_class():
    import torch

    F = torch.nn.functional

    class GraphProgram(torch.nn.Module):
        """Runs a case graph node by node with ordinary torch calls (see :func:`graph_to_module`)."""

        def __init__(self, graph: Graph, attrs: Mapping[str, object]) -> None:
            super().__init__()
            self._graph = graph
            users = _users(graph)
            self._mods: dict[str, str] = {}
            owned: set[str] = set()
            for n in graph.nodes:
                if n.op == "call_function" and n.target in _WEIGHTED_OPS + ("aten.layer_norm.default",):
                    mod = _module_for(n, attrs, users)
                    if mod is not None:
                        self.add_module(n.name, mod)
                        self._mods[n.name] = n.name
                        owned.update(a.name for a in n.args if isinstance(a, Ref) and a.name in attrs)
            for name, value in attrs.items():
                if name in owned:
                    continue
                if isinstance(value, torch.nn.Parameter):
                    self.register_parameter(name, torch.nn.Parameter(value.detach().clone()))
                else:
                    self.register_buffer(name, value.detach().clone())

        def forward(self, *inputs):
            g = self._graph
            env: dict[str, object] = {}
            placeholders = [n for n in g.nodes if n.op == "placeholder"]
            for n, x in zip(placeholders, inputs):
                env[n.name] = x
            for n in g.nodes:
                if n.op == "get_attr" and n.name not in env and hasattr(self, n.name):
                    env[n.name] = getattr(self, n.name)
            for n in g.nodes:
                if n.op == "call_function":
                    env[n.name] = self._run(n, env)
            (outs,) = [n for n in g.nodes if n.op == "output"][0].args
            return tuple(env[r.name] for r in outs)

        def _run(self, n: Node, env):
            def v(a):
                if isinstance(a, Ref):
                    return env[a.name]
                if isinstance(a, tuple):
                    return [v(b) for b in a]
                return a

            if n.name in self._mods:  # the module owns the parameters: only the input is passed
                return getattr(self, n.name)(v(n.args[0]))
            args = [v(a) for a in n.args]
            kwargs = {k: v(a) for k, a in n.kwargs}
            t = n.target
            p = lambda i, key, default: _pick(tuple(args), kwargs, i, key, default)  # noqa: E731
            if t == "aten.conv2d.default":
                return F.conv2d(args[0], args[1], p(2, "bias", None), p(3, "stride", 1), p(4, "padding", 0),
                                p(5, "dilation", 1), p(6, "groups", 1))
            if t == "aten.linear.default":
                return F.linear(args[0], args[1], p(2, "bias", None))
            if t == "aten.layer_norm.default":
                return F.layer_norm(args[0], args[1], p(2, "weight", None), p(3, "bias", None), p(4, "eps", 1e-5))
            if t == "aten.relu.default":
                return torch.relu(args[0])
            if t == "aten.sigmoid.default":
                return torch.sigmoid(args[0])
            if t == "aten.clone.default":
                return args[0].clone()
            if t == "aten.hardtanh.default":
                return F.hardtanh(args[0], p(1, "min_val", -1.0), p(2, "max_val", 1.0))
            if t == "aten.add.Tensor":
                alpha = kwargs.get("alpha", 1)
                return args[0] + args[1] if alpha == 1 else torch.add(args[0], args[1], alpha=alpha)
            if t == "aten.mul.Tensor":
                return args[0] * args[1]
            if t == "aten.minimum.default":
                return torch.minimum(args[0], args[1])
            if t == "aten.eq.Tensor":
                return args[0] == args[1]
            if t == "aten.cat.default":
                return torch.cat(args[0], p(1, "dim", 0))
            if t == "aten.stack.default":
                return torch.stack(args[0], p(1, "dim", 0))
            if t == "aten.split.Tensor":
                return torch.split(args[0], args[1], p(2, "dim", 0))
            if t == "getitem":
                return args[0][args[1]]
            if t == "aten.view.default":
                return args[0].view(args[1])
            if t == "aten.reshape.default":
                return args[0].reshape(args[1])
            if t == "aten.permute.default":
                return args[0].permute(args[1])
            if t == "aten.flatten.using_ints":
                return torch.flatten(args[0], p(1, "start_dim", 0), p(2, "end_dim", -1))
            if t == "aten.max_pool2d.default":
                return F.max_pool2d(args[0], args[1], p(2, "stride", None) or None, p(3, "padding", 0))
            if t == "aten.avg_pool2d.default":
                return F.avg_pool2d(args[0], args[1], p(2, "stride", None) or None, p(3, "padding", 0))
            if t == "aten.adaptive_avg_pool2d.default":
                return F.adaptive_avg_pool2d(args[0], args[1])
            if t == "aten.mean.dim":
                return args[0].mean(args[1], keepdim=p(2, "keepdim", False))
            if t == "aten.softmax.int":
                return F.softmax(args[0], args[1])
            if t == "aten.mm.default":
                return torch.mm(args[0], args[1])
            if t == "aten.bmm.default":
                return torch.bmm(args[0], args[1])
            if t == "aten.copy_.default":
                return args[0].copy_(args[1])
            if t == "aten.add_.Tensor":
                return args[0].add_(args[1])
            raise UnsupportedGraph(n.name, f"no module spelling for {t!r}")

    return GraphProgram


_GraphProgramClass = None


def _GraphProgram(graph: Graph, attrs: Mapping[str, object]):
    global _GraphProgramClass
    if _GraphProgramClass is None:
        _GraphProgramClass = _program_class()
    return _GraphProgramClass(graph, attrs)


def _meta_of_value(value) -> Union[TensorMeta, tuple, None]:
    import torch

    if isinstance(value, torch.Tensor):
        return TensorMeta(tuple(int(d) for d in value.shape), str(value.dtype).replace("torch.", ""))
    if isinstance(value, (list, tuple)) and all(isinstance(x, torch.Tensor) for x in value):
        return tuple(_meta_of_value(x) for x in value)
    return None


@functools.lru_cache(maxsize=512)
def export_graph(graph: Graph, seed: int = 0) -> tuple[Graph, tuple[tuple[str, object], ...]]:
    """``torch.export`` the module program of ``graph`` (:func:`graph_to_module`) and read the case back.

    Returns the extracted graph and its node values as ``(name, TensorMeta | tuple | None)`` pairs (the
    FakeTensors export computed). Cached per graph: an export takes 0.1-1 s.
    """
    import torch

    from harness.build import example_inputs, extract_case

    module = graph_to_module(graph, seed)
    ep = torch.export.export(module, example_inputs(graph, seed))
    try:
        gm = ep.module(check_guards=False)
    except TypeError:  # older torch: no check_guards (extract_case drops the unused _guards_fn call)
        gm = ep.module()
    case = extract_case(gm)
    meta = tuple((n.name, _meta_of_value(n.meta.get("val"))) for n in gm.graph.nodes if n.op != "call_module")
    return case.graph, meta


# Ops whose module spelling export turns back into the same op.
EXPORTABLE_OPS: tuple[str, ...] = GENERATED_OPS


@st.composite
def exported_cases(
    draw,
    mode: str = "valid",
    is_qat: Union[bool, st.SearchStrategy[bool]] = st.booleans(),
    min_nodes: int = 1,
    max_nodes: int = 8,
    ops: Optional[Iterable[str]] = None,
    allow_implicit_sharing: st.SearchStrategy[bool] = st.booleans(),
    sharing_order: str = "any",
) -> Case:
    """Cases whose graph is what ``torch.export.export(m, inputs).module()`` gives for a random module program.

    A graph is drawn with :func:`graphs`, written as an ordinary ``nn.Module`` (:func:`graph_to_module`),
    exported (cached, see :func:`export_graph`) and extracted with ``harness.build.extract_case``; annotations are
    then drawn for the exported graph (``mode`` valid or adversarial; adversarial cases carry
    ``expected.error``).
    """
    qat = draw(_as_strategy(is_qat))
    source = draw(graphs(min_nodes, max_nodes, ops if ops is not None else EXPORTABLE_OPS))
    graph, meta_pairs = export_graph(source)
    meta: Meta = dict(meta_pairs)  # type: ignore[arg-type]
    info = Info(title="exported", kind="scenario", tags=("generated", "exported", mode))
    if mode == "adversarial":
        items = [i for its in _items_by_node(graph, meta).values() for i in its]
        possible = _applicable_kinds(graph, items, ADVERSARIAL_KINDS)
        assume(bool(possible))
        anns, kind = draw(adversarial_annotations(graph, possible, allow_implicit_sharing, qat, meta))
        return Case(graph, anns, is_qat=qat, expected=Expected(error=ERROR_FOR_KIND[kind]),
                    info=replace(info, tags=info.tags + (kind,)))
    anns = draw(annotations(graph, mode, allow_implicit_sharing, qat, sharing_order, meta))
    return Case(graph, anns, is_qat=qat, info=info)
