"""The graph strategy: random DAGs in the ATen IR that ``torch.export`` produces.

Graphs have 1-3 float placeholders (from :data:`PLACEHOLDER_SHAPES`, chosen so ops compose: NCHW for conv and
pooling, ``[2, 8]``/``[2, 3, 8]`` for linear and matmul, view/reshape/flatten/permute moving between them),
parameters and buffers as ``get_attr`` nodes first (as export orders them), fan-out and fan-in, list arguments
(``cat``, ``stack``), the same node used twice by one op (``add(x, x)``, ``cat([x, x])``), ``split`` with
``getitem`` users, in-place writes to buffers (``copy_``/``add_`` whose value nobody uses, as in export), and an
output of 1-3 values. Each node's value is computed with :data:`harness.strategies.shapes.SHAPE_RULES` while
drawing (and contiguity is tracked, so ``view`` only sees contiguous inputs): every graph builds.

Shrinking: each op is one span ending with its continue flag, ops are listed simplest first, operands shrink to
the most recent value and to distinct values, so failing graphs shrink to a handful of nodes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

from hypothesis import strategies as st

from harness.case import Graph, Node, Ref, TensorMeta
from harness.strategies.shapes import FLOAT, MAX_NUMEL, SHAPE_RULES, Meta, refs

__all__ = ["PLACEHOLDER_SHAPES", "GENERATED_OPS", "graphs"]

PLACEHOLDER_SHAPES: tuple[tuple[int, ...], ...] = ((1, 4, 8, 8), (2, 8), (2, 3, 8), (1, 8, 4, 4))


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

    def has(self, pred: Callable[[_Val], bool] = lambda v: True) -> bool:
        return any(v.meta.dtype == FLOAT and pred(v) for v in self.vals)

    def pick(self, options: Sequence):
        """One of ``options``, shrinking towards the first."""
        return options[self.draw(_index(len(options)))]

    def choose(self, cands: list[_Val]) -> _Val:
        """One of ``cands``, shrinking towards the most recent value (chains of ops)."""
        return cands[len(cands) - 1 - self.draw(_index(len(cands)))]

    def attr(self, base: str, shape: tuple[int, ...], kind: str, reuse: bool = True) -> str:
        """A get_attr of ``shape``: a fresh one, or (drawn) an existing one of that shape and kind (tying)."""
        same = [n for n in self.attrs if n.tensor.shape == shape and n.attr_kind == kind]
        if reuse and same and self.draw(st.booleans()):
            return self.pick(same).name
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
        for r in refs((args, kwargs)):
            self.used.add(r)
        if any(isinstance(v, Ref) for _, v in kwargs):
            self.n_tensor_kwargs += 1
        self.body.append(node)
        self.meta[name] = value
        if isinstance(value, TensorMeta) and operand:
            if contiguous is None:
                contiguous = all(self._contig(r) for r in refs(args))
            self.vals.append(_Val(name, value, contiguous))
        return name

    def _contig(self, name: str) -> bool:
        for v in self.vals:
            if v.name == name:
                return v.contiguous
        return True  # get_attrs are contiguous


@functools.lru_cache(maxsize=None)
def _index(n: int) -> st.SearchStrategy[int]:
    """Strategy for an index into a sequence of ``n`` options (cached: building strategies is not free)."""
    return st.integers(0, n - 1)


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


@functools.lru_cache(maxsize=4096)
def _reshape_targets(shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
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
class _OpGen:
    """How to draw one op: ``ok`` says whether it can be applied to the current graph, ``emit`` appends it."""

    name: str
    ok: Callable[[_GraphState], bool]
    emit: Callable[[_GraphState], None]


def _any_float(s: _GraphState) -> bool:
    return s.has()


def _gen_unary(target: str, extra: Callable[[_GraphState], tuple] = lambda s: ()) -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats())
        s.emit(target, (Ref(x.name),) + extra(s))

    return _OpGen(target, _any_float, emit)


def _hardtanh_bounds(s: _GraphState) -> tuple:
    return s.pick([(), (0.0, 6.0), (-2.0, 2.0)])


def _gen_binary(target: str) -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats())
        # how to get the second operand; shrinks to another existing value, then a constant
        others = s.floats(lambda v: v.meta.shape == x.meta.shape and v.name != x.name)
        modes = (["value"] if others else []) + ["attr", "broadcast_attr", "same"]
        if target in ("aten.add.Tensor", "aten.mul.Tensor"):  # a Python scalar wraps as a 0-dim tensor
            modes.insert(1, "scalar")
        mode = s.pick(modes)
        if mode == "value":
            other: object = Ref(s.choose(others).name)
        elif mode == "scalar":
            other = s.pick([1.0, 2.0, 0.5])
        elif mode == "same":
            other = Ref(x.name)  # add(x, x): one value, two uses
        else:
            shape = x.meta.shape if mode == "attr" else x.meta.shape[-1:]
            other = Ref(s.attr(f"{_base_name(target)}_other", shape, s.pick(["buffer", "parameter"])))
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

    return _OpGen("aten.cat.default", lambda s: s.has(lambda v: _numel(v) * 2 <= MAX_NUMEL), emit)


def _gen_stack() -> _OpGen:
    def ok_val(v: _Val) -> bool:
        return len(v.meta.shape) < 4 and _numel(v) * 2 <= MAX_NUMEL

    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        others = s.floats(lambda v: v.meta.shape == x.meta.shape and v.name != x.name)
        y = s.choose(others) if others and not s.draw(st.booleans()) else x
        d = s.draw(st.integers(0, len(x.meta.shape)))
        s.emit("aten.stack.default", ((Ref(x.name), Ref(y.name)),) + ((d,) if d else ()))

    return _OpGen("aten.stack.default", lambda s: s.has(ok_val), emit)


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

    return _OpGen("aten.split.Tensor", lambda s: s.has(ok_val), emit)


def _gen_view(target: str) -> _OpGen:
    need_contig = target == "aten.view.default"

    def ok_val(v: _Val) -> bool:
        return (v.contiguous or not need_contig) and bool(_reshape_targets(v.meta.shape))

    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        shape = s.pick(_reshape_targets(x.meta.shape))
        if len(shape) > 1 and s.draw(st.booleans()):
            i = s.draw(st.integers(0, len(shape) - 1))
            shape = shape[:i] + (-1,) + shape[i + 1 :]
        s.emit(target, (Ref(x.name), tuple(shape)), contiguous=x.contiguous)

    return _OpGen(target, lambda s: s.has(ok_val), emit)


def _gen_permute() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        dims = tuple(s.draw(st.permutations(range(len(x.meta.shape)))))
        s.emit("aten.permute.default", (Ref(x.name), dims),
               contiguous=x.contiguous and _permuted_contiguous(x.meta.shape, dims))

    return _OpGen("aten.permute.default", lambda s: s.has(lambda v: len(v.meta.shape) >= 2), emit)


def _gen_flatten() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        rank = len(x.meta.shape)
        start = s.draw(st.integers(0, rank - 2))
        end = s.pick([-1] + list(range(start + 1, rank - 1)))
        s.emit("aten.flatten.using_ints", (Ref(x.name),) + _default_trimmed([start, end], [0, -1]),
               contiguous=x.contiguous)

    return _OpGen("aten.flatten.using_ints", lambda s: s.has(lambda v: len(v.meta.shape) >= 2), emit)


def _is_nchw(v: _Val) -> bool:
    return len(v.meta.shape) == 4 and v.meta.shape[1] <= 16


def _gen_conv2d() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(_is_nchw))
        n, c, h, w = x.meta.shape
        k = s.pick([1, 3]) if min(h, w) >= 3 else 1
        stride = s.pick([1, 2]) if min(h, w) >= 2 else 1
        pad = s.pick([0, k // 2]) if k > 1 else 0
        out = s.pick([4, 8])
        groups = c if s.draw(st.booleans()) and c > 1 else 1  # depthwise
        if groups > 1:
            out = c
        weight = s.attr("conv2d_weight", (out, c // groups, k, k), "parameter")
        bias = s.attr("conv2d_bias", (out,), "parameter", reuse=False) if s.draw(st.booleans()) else None
        args = [Ref(x.name), Ref(weight), Ref(bias) if bias else None, (stride, stride), (pad, pad), (1, 1), groups]
        s.emit("aten.conv2d.default", _default_trimmed(args, [None, (1, 1), (0, 0), (1, 1), 1]))

    return _OpGen("aten.conv2d.default", lambda s: s.has(_is_nchw), emit)


def _gen_linear() -> _OpGen:
    def ok_val(v: _Val) -> bool:
        return 1 <= len(v.meta.shape) <= 3 and v.meta.shape[-1] <= 64

    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(ok_val))
        out = s.pick([8, 4, 16])
        weight = s.attr("linear_weight", (out, x.meta.shape[-1]), "parameter")
        bias = s.attr("linear_bias", (out,), "parameter", reuse=False) if s.draw(st.booleans()) else None
        s.emit("aten.linear.default", (Ref(x.name), Ref(weight)) + ((Ref(bias),) if bias else ()))

    return _OpGen("aten.linear.default", lambda s: s.has(ok_val), emit)


def _pool_ok(v: _Val) -> bool:
    return len(v.meta.shape) == 4 and min(v.meta.shape[2:]) >= 2


def _gen_pool(target: str) -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(_pool_ok))
        k = s.pick([2, 3]) if min(x.meta.shape[2:]) >= 3 else 2
        stride = s.pick([k, 1])
        pad = s.pick([0, 1]) if k == 3 else 0
        args = [Ref(x.name), (k, k), (stride, stride), (pad, pad)]
        s.emit(target, _default_trimmed(args, [(k, k), (0, 0)]))

    return _OpGen(target, lambda s: s.has(_pool_ok), emit)


def _gen_adaptive() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) == 4))
        size = s.pick([1, 2])
        s.emit("aten.adaptive_avg_pool2d.default", (Ref(x.name), (size, size)))

    return _OpGen("aten.adaptive_avg_pool2d.default", lambda s: s.has(lambda v: len(v.meta.shape) == 4), emit)


def _gen_mean() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats(lambda v: len(v.meta.shape) >= 2))
        rank = len(x.meta.shape)
        dims = s.pick([(-1,), (-1, -2), (rank - 1,)] + ([(2, 3)] if rank == 4 else []))
        # keep at least one dim: no generated value is 0-dimensional
        keep = s.draw(st.booleans()) or len(dims) >= rank
        s.emit("aten.mean.dim", (Ref(x.name), dims) + ((True,) if keep else ()))

    return _OpGen("aten.mean.dim", lambda s: s.has(lambda v: len(v.meta.shape) >= 2), emit)


def _gen_softmax() -> _OpGen:
    def emit(s: _GraphState) -> None:
        x = s.choose(s.floats())
        s.emit("aten.softmax.int", (Ref(x.name), s.pick([-1, 0])))

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

    return _OpGen("aten.layer_norm.default", lambda s: s.has(lambda v: len(v.meta.shape) >= 2), emit)


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
            b = s.attr(f"{_base_name(target)}_weight", batch + (k, s.pick([8, 4])), "parameter")
        s.emit(target, (Ref(a.name), Ref(b)))

    return _OpGen(target, lambda s: s.has(ok_val), emit)


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
# Drawn twice as often: the ops quantizers care most about (weights and biases, sharing through cat, fixed
# qparams on sigmoid).
_FAVOURED = ("aten.conv2d.default", "aten.linear.default", "aten.cat.default", "aten.sigmoid.default")


_CONTINUE = st.integers(0, 15)


@st.composite
def _op_step(draw, s: _GraphState, gens: Sequence[_OpGen], ask: bool) -> bool:
    """Append one op to ``s``; then, if ``ask``, draw whether another op follows (one span per op)."""
    s.draw = draw
    ok = [g for g in gens if g.ok(s)]
    gen = s.pick(ok + [g for g in ok if g.name in _FAVOURED])
    gen.emit(s)
    return not ask or draw(_CONTINUE) != 0


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
    add_input(first[draw(_index(len(first)))])
    for shape in draw(st.lists(st.sampled_from(PLACEHOLDER_SHAPES), max_size=2)):
        add_input(shape)

    # One span per op, ending with its continue flag (rather than a count drawn up front): the shrinker can
    # then delete any op with its flag, not only the last ones. A flag continues with probability 15/16.
    n = 0
    while n < max_nodes:
        more = draw(_op_step(s, gens, ask=min_nodes <= n + 1 < max_nodes))
        n += 1
        if n >= min_nodes and not more:
            break
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
