"""Turning a :class:`harness.case.Case` into real torch objects.

``build(case)`` gives a ``torch.fx.GraphModule`` shaped like the output of ``torch.export.export(...).module()``:
the same node names, parameters and buffers registered on the root (dotted paths become submodules; constants
are plain tensor attributes), deterministic pseudo-random values, a FakeTensor ``meta["val"]`` on every node, a ``meta["from_node"]``
provenance on every call_function and output node (export's ``.module()`` writes one on every node, graphs made
with torch.fx directly on none: placeholders and attributes are left without, so prepare meets both), and torchao
``QuantizationAnnotation``s in ``meta["quantization_annotation"]`` (specs converted by ``harness.fx.specs``). The
reverse, ``extract_case``, lives in ``harness.fx.extract`` and is re-exported here.
"""

from __future__ import annotations

import zlib
from typing import Any, Callable, Iterable, Optional

import torch
from torch.fx.traceback import NodeSource, NodeSourceAction
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

from harness import case as C
from harness.case import names
from harness.fx import fakeval, ops, specs
from harness.fx.extract import UnsupportedGraph, extract_case
from harness.fx.nodes import ANNOTATION_KEY
from prepare_impl.fx_nodes import create_call

__all__ = [
    "BuildError",
    "UnsupportedGraph",
    "build",
    "build_module",
    "annotate",
    "example_inputs",
    "extract_case",
]

try:  # generates the module's Python code on first use instead of at construction (saves ~4 ms a build);
    # prepare never needs the built module's code: it wraps the graph in a new GraphModule at the end
    from torch.fx._lazy_graph_module import _LazyGraphModule as _GraphModuleClass
except ImportError:  # pragma: no cover - older/newer torch without it
    _GraphModuleClass = torch.fx.GraphModule


_TENSOR_DTYPES = frozenset(names.TENSOR_DTYPE_NAMES)
FROM_NODE_KEY = "from_node"  # torchao's numeric-debugger provenance key, copied to observers by prepare
_PASS_NAME = "harness.fx.build"


class BuildError(ValueError):
    """A case that cannot be turned into a GraphModule; the message names the node (or annotation) at fault."""


# ---- values ------------------------------------------------------------------------------------


def _generator(seed: int, salt: str, name: str) -> torch.Generator:
    """A generator whose stream depends only on (seed, salt, name): values do not depend on node order."""
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(f"{salt}:{name}".encode())) % (2**63))


def _random_tensor(meta: C.TensorMeta, gen: torch.Generator, *, positive: bool) -> torch.Tensor:
    """A deterministic tensor for ``meta``: normal floats (uniform in [0.5, 1.5) if ``positive``),
    integers in {0, 1} (safe as indices), random bools."""
    dtype = ops.resolve_dtype(meta.dtype)
    shape = tuple(meta.shape)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=gen).to(torch.bool)
    if dtype.is_floating_point:
        if positive:
            return (torch.rand(shape, generator=gen) + 0.5).to(dtype)
        return torch.randn(shape, generator=gen).to(dtype)
    if dtype.is_complex:
        return torch.randn(shape, generator=gen, dtype=dtype)
    return torch.randint(0, 2, shape, generator=gen).to(dtype)


def _checked_meta(node: C.Node) -> C.TensorMeta:
    meta = node.tensor
    if not isinstance(meta, C.TensorMeta):
        raise BuildError(f"node {node.name!r}: a {node.op} needs a tensor (shape and dtype)")
    if not isinstance(meta.shape, tuple) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                     for d in meta.shape):
        raise BuildError(f"node {node.name!r}: bad shape {meta.shape!r}")
    if meta.dtype not in _TENSOR_DTYPES:
        raise BuildError(f"node {node.name!r}: {ops.UnknownName('tensor dtype', meta.dtype)}")
    return meta


def example_inputs(graph: C.Graph, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Deterministic example inputs for the placeholders of ``graph``, in placeholder order."""
    return tuple(
        _random_tensor(_checked_meta(n), _generator(seed, "input", n.name), positive=False)
        for n in graph.nodes
        if n.op == "placeholder"
    )


# ---- the module --------------------------------------------------------------------------------


def _register_attr(root: torch.nn.Module, node: C.Node, value: torch.Tensor) -> None:
    """Register ``value`` on ``root`` at the dotted path ``node.target`` as a parameter, a buffer or (a constant)
    a plain tensor attribute."""
    path = node.target
    parts = path.split(".") if isinstance(path, str) else []
    if not parts or not all(p.isidentifier() for p in parts):
        raise BuildError(f"node {node.name!r}: bad attribute path {path!r}")
    module = root
    for i, part in enumerate(parts[:-1]):
        child = getattr(module, part, None) if hasattr(module, part) else None
        if child is None:
            child = torch.nn.Module()
            module.add_module(part, child)
        elif not isinstance(child, torch.nn.Module):
            raise BuildError(f"node {node.name!r}: attribute path {path!r} goes through a non-module at "
                             f"{'.'.join(parts[: i + 1])!r}")
        module = child
    leaf = parts[-1]
    if leaf in module._modules:
        raise BuildError(f"node {node.name!r}: attribute {path!r} is already a submodule")
    existing = module._parameters.get(leaf, module._buffers.get(leaf))
    constant = module.__dict__.get(leaf)
    if existing is None and isinstance(constant, torch.Tensor):
        existing = constant
    if existing is not None:
        kind = ("parameter" if isinstance(existing, torch.nn.Parameter)
                else "buffer" if leaf in module._buffers else "constant")
        same_kind = kind == node.attr_kind
        if existing.shape != value.shape or existing.dtype != value.dtype or not same_kind:
            raise BuildError(f"node {node.name!r}: attribute {path!r} is defined twice, differently")
        return
    if hasattr(module, leaf):
        raise BuildError(f"node {node.name!r}: attribute name {leaf!r} clashes with an nn.Module attribute")
    if node.attr_kind == "parameter":
        module.register_parameter(leaf, torch.nn.Parameter(value, requires_grad=value.is_floating_point()))
    elif node.attr_kind == "buffer":
        module.register_buffer(leaf, value)
    elif node.attr_kind == "constant":
        setattr(module, leaf, value)
    else:
        raise BuildError(f"node {node.name!r}: get_attr needs attr_kind 'parameter', 'buffer' or 'constant', "
                         f"got {node.attr_kind!r}")


class _Env:
    """Node name -> (fx Node, meta value) while the graph is being built."""

    def __init__(self) -> None:
        self.nodes: dict[str, torch.fx.Node] = {}
        self.vals: dict[str, Any] = {}

    def args(self, owner: str, value: Any, as_val: bool, path: str) -> Any:
        """Case arg -> fx arg (``as_val=False``) or meta value (``as_val=True``)."""
        if isinstance(value, C.Ref):
            if value.name not in self.nodes:
                raise BuildError(f"node {owner!r}: {path}: reference to unknown or later node {value.name!r}")
            return self.vals[value.name] if as_val else self.nodes[value.name]
        if isinstance(value, C.Const):
            try:
                return ops.resolve_const(value)
            except ops.UnknownName as e:
                raise BuildError(f"node {owner!r}: {path}: {e}") from None
        if isinstance(value, tuple):
            return [self.args(owner, v, as_val, f"{path}[{i}]") for i, v in enumerate(value)]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise BuildError(f"node {owner!r}: {path}: unsupported argument of type {type(value).__name__}")


def _fake_value(node: C.Node, fn: Callable, env: _Env) -> Any:
    args = tuple(env.args(node.name, a, True, f"args[{i}]") for i, a in enumerate(node.args))
    kwargs = {k: env.args(node.name, v, True, f"kwargs[{k!r}]") for k, v in node.kwargs}
    try:
        return fakeval.propagate(node.target, fn, args, kwargs)
    except Exception as e:  # the op rejected the case's shapes/arguments
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise BuildError(f"node {node.name!r} ({node.target}): {type(e).__name__}: {text[:300]}") from None


def _check_graph_shape(graph: C.Graph) -> None:
    if not isinstance(graph, C.Graph) or not isinstance(graph.nodes, tuple):
        raise BuildError("not a Graph of a tuple of nodes")
    seen: set[str] = set()
    for n in graph.nodes:
        if not isinstance(n, C.Node):
            raise BuildError(f"graph node of type {type(n).__name__}")
        if n.name in seen:
            raise BuildError(f"duplicate node name {n.name!r}")
        seen.add(n.name)
    outputs = [n for n in graph.nodes if n.op == "output"]
    if len(outputs) != 1 or graph.nodes[-1].op != "output":
        raise BuildError("a graph needs exactly one output node, and it must be last")


# graph -> {node name: meta["val"]} of its last builds (FakeTensors are never mutated by prepare; the values
# depend only on the graph, not on the seed: an attribute's FakeTensor has its shape, dtype and contiguous stride)
_VALS_CACHE: dict = {}
_VALS_CACHE_SIZE = 16


def build_module(graph: C.Graph, seed: int = 0) -> torch.fx.GraphModule:
    """A GraphModule whose nodes are exactly those of ``graph`` (same names, order, args and kwargs).

    Parameters and buffers get deterministic values from ``seed`` (float buffers are positive, so a
    batch norm's running variance is valid). Every node gets a FakeTensor ``meta["val"]`` (a list/tuple of
    them for multi-output ops, like ``torch.export``); ``getitem`` nodes get the element.
    """
    _check_graph_shape(graph)
    root = torch.nn.Module()
    fx_graph = torch.fx.Graph()
    env = _Env()
    known_vals = _VALS_CACHE.get(graph)  # the differential check builds each case three times
    vals: dict[str, Any] = {}
    for node in graph.nodes:
        if node.op == "placeholder":
            meta = _checked_meta(node)
            fx_node = fx_graph.create_node("placeholder", node.name, name=node.name)
            val = known_vals[node.name] if known_vals is not None else fakeval.fake_tensor(
                meta.shape, ops.resolve_dtype(meta.dtype))
        elif node.op == "get_attr":
            meta = _checked_meta(node)
            value = _random_tensor(meta, _generator(seed, "attr", node.target), positive=node.attr_kind == "buffer")
            _register_attr(root, node, value)
            fx_node = fx_graph.create_node("get_attr", node.target, name=node.name)
            val = known_vals[node.name] if known_vals is not None else fakeval.fake_like(value)
        elif node.op == "call_function":
            try:
                fn = ops.resolve_op(node.target)
            except ops.UnknownName as e:
                raise BuildError(f"node {node.name!r}: {e}") from None
            val = known_vals[node.name] if known_vals is not None else _fake_value(node, fn, env)
            args = tuple(env.args(node.name, a, False, f"args[{i}]") for i, a in enumerate(node.args))
            kwargs = {k: env.args(node.name, v, False, f"kwargs[{k!r}]") for k, v in node.kwargs}
            fx_node = create_call(fx_graph, "call_function", fn, args, kwargs, name=node.name)
            # torch.export puts one on every call; some upstream passes index it directly
            fx_node.meta["nn_module_stack"] = {}
        elif node.op == "output":
            args = tuple(env.args(node.name, a, False, f"args[{i}]") for i, a in enumerate(node.args))
            args = tuple(tuple(a) if isinstance(a, list) else a for a in args)
            fx_node = fx_graph.create_node("output", "output", args, name=node.name)
            val = None
        else:
            raise BuildError(f"node {node.name!r}: unsupported op kind {node.op!r}")
        if fx_node.name != node.name:
            raise BuildError(f"node {node.name!r}: not a usable fx node name (fx renamed it {fx_node.name!r})")
        fx_node.meta["val"] = val
        if node.op in ("call_function", "output"):
            fx_node.meta[FROM_NODE_KEY] = [NodeSource(fx_node, _PASS_NAME, NodeSourceAction.CREATE)]
        env.nodes[node.name] = fx_node
        env.vals[node.name] = val
        vals[node.name] = val
    if known_vals is None:
        _VALS_CACHE[graph] = vals
        while len(_VALS_CACHE) > _VALS_CACHE_SIZE:
            _VALS_CACHE.pop(next(iter(_VALS_CACHE)))
    gm = _GraphModuleClass(root, fx_graph)
    for node in graph.nodes:  # GraphModule copies plain tensor attributes as buffers: make constants plain again
        if node.op == "get_attr" and node.attr_kind == "constant":
            *path, leaf = node.target.split(".")
            owner = gm.get_submodule(".".join(path))
            value = owner._buffers.pop(leaf, None)
            if value is not None:
                setattr(owner, leaf, value)
    gm.meta.update({"inline_constraints": {}})  # what torch.export's .module() carries
    return gm


# ---- annotations -------------------------------------------------------------------------------


def _lookup(nodes: dict[str, torch.fx.Node], name: Any, where: str) -> torch.fx.Node:
    try:
        return nodes[name]
    except (KeyError, TypeError):
        raise BuildError(f"{where}: unknown node {name!r}") from None


def annotate(gm: torch.fx.GraphModule, annotations: Iterable[C.NodeAnnotation]) -> None:
    """Attach torchao ``QuantizationAnnotation``s built from ``annotations`` to the nodes of ``gm``.

    ``input_qspec_map`` keys are the named nodes, in the case's order. A key need not be an argument of the
    annotated node and a spec may share with an edge or node nobody annotates: such cases are built as they
    are (they are what an adversarial case looks like). Only names that are not nodes of ``gm`` are errors.
    Equal case specs give the same torchao spec object, as a quantizer reusing one config does.
    """
    nodes = {n.name: n for n in gm.graph.nodes}
    memo: dict[str, Any] = {}

    def torchao_spec(spec: Optional[C.Spec], where: str) -> Any:
        key = repr(spec)  # repr tells 1, 1.0 and True apart; == does not
        if key not in memo:
            try:
                memo[key] = specs.to_torchao(spec, nodes, where)
            except specs.SpecError as e:
                raise BuildError(str(e)) from None
        return memo[key]

    done: set[str] = set()
    for i, ann in enumerate(annotations):
        if not isinstance(ann, C.NodeAnnotation):
            raise BuildError(f"annotations[{i}]: not a NodeAnnotation")
        where = f"annotation of {ann.node!r}"
        node = _lookup(nodes, ann.node, f"annotations[{i}]")
        if ann.node in done:
            raise BuildError(f"{where}: node annotated twice")
        done.add(ann.node)
        input_map: dict[torch.fx.Node, Any] = {}
        for arg_name, spec in ann.inputs:
            arg = _lookup(nodes, arg_name, f"{where}: input")
            if arg in input_map:
                raise BuildError(f"{where}: input {arg_name!r} given twice")
            input_map[arg] = torchao_spec(spec, f"{where}: input {arg_name!r}")
        node.meta[ANNOTATION_KEY] = QuantizationAnnotation(
            input_qspec_map=input_map,
            output_qspec=torchao_spec(ann.output, f"{where}: output"),
            allow_implicit_sharing=bool(ann.allow_implicit_sharing),
            _annotated=True,
        )


def build(case: C.Case, seed: int = 0) -> torch.fx.GraphModule:
    """``build_module(case.graph, seed)`` with ``case.annotations`` attached: ready for ``prepare``."""
    gm = build_module(case.graph, seed)
    annotate(gm, case.annotations)
    return gm
