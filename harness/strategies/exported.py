"""Exported cases: the ATen IR that ``torch.export`` gives for an ordinary module program, i.e. what quantizers see.

A graph drawn by :func:`harness.strategies.graphs.graphs` is written as a plain ``torch.nn.Module``
(:func:`graph_to_module`: each op's program spelling in the op table, :mod:`harness.strategies.op_table`:
``nn.Conv2d``/``nn.Linear``/``nn.LayerNorm`` submodules, ``torch.relu(x)``, ``x + y``, ``x.view(...)``,
``torch.cat``, ``F.max_pool2d``, ``self.buf.copy_(y)``...), exported with
``harness.fx.export.export_module`` and read back with ``harness.fx.build.extract_case``
(:func:`export_graph`, cached: an export costs 0.1-1 s). The exported graph differs from the drawn one the way
real programs do: export's own node names, dotted attribute paths (``conv2d.weight``), argument spelling.
"""

from __future__ import annotations

import functools
from typing import Iterable, Mapping, Optional, Union

import torch
from hypothesis import strategies as st

from harness.case import Case, Const, Graph, Node, Ref, TensorMeta
from harness.case.walks import has_tensor_kwarg, users_of
from harness.fx.build import build_module, example_inputs, extract_case
from harness.fx.export import export_module
from harness.fx.ops import resolve_const, resolve_op
from harness.strategies.cases import GraphSource, cases
from harness.strategies.graphs import graphs
from harness.strategies.op_table import BASIC_OPS, ENTRIES, infer_meta
from harness.strategies.shapes import Meta, ShapeRuleError, arg_at

__all__ = ["Call", "graph_to_module", "export_graph", "exported_cases", "EXPORTABLE_OPS"]

F = torch.nn.functional

# Ops whose module spelling export turns back into the same op (the basic generated ops; tensor kwargs excluded):
# the default of exported_cases, whose cases the prepare checks read. Every op of the table with a spelling is
# PROGRAM_OPS (harness.strategies.op_table).
EXPORTABLE_OPS: tuple[str, ...] = BASIC_OPS


class Call:
    """What an op's program spelling (``Op.program``, ``Op.module``) is given: the node's arguments with their
    values (``a``, ``k``; for ``Op.module`` the owned arguments are their tensors, the others stay ``Ref``),
    ``p(i, key, default)`` (argument ``i`` or keyword ``key``), ``owned(i)`` (whether argument ``i`` is a tensor
    the module owns) and ``torch``, ``F``, ``nn``."""

    torch = torch
    F = F
    nn = torch.nn

    def __init__(self, args: tuple, kwargs: Mapping[str, object]) -> None:
        self.a = args
        self.k = kwargs

    def p(self, i: int, key: str, default):
        return arg_at(self.a, self.k, i, key, default)

    def owned(self, i: int) -> bool:
        return i < len(self.a) and isinstance(self.a[i], torch.Tensor)


def graph_to_module(graph: Graph, seed: int = 0) -> torch.nn.Module:
    """An ordinary ``torch.nn.Module`` program computing ``graph`` with everyday torch code (each op's program
    spelling in the op table).

    An op whose parameters belong to that one node and whose entry has a module (``nn.Conv2d``, ``nn.Linear``,
    ``nn.LayerNorm``...) becomes a submodule named after the node, and so does a node called through a module
    without parameters (``Node.module``: ``nn.ReLU``, ``nn.MaxPool2d``...); other parameters and buffers are attributes
    named after their get_attr node. Parameter values are those ``harness.fx.build`` gives for ``seed``. Graphs
    with tensor kwargs, or an op without a program spelling, are rejected (:class:`ShapeRuleError`): export would
    move the tensor to a positional argument, or write something else.
    """
    for n in graph.nodes:
        if n.op == "call_function" and has_tensor_kwarg(n):
            raise ShapeRuleError(n.name, "tensor kwargs cannot be written as a module program")
        if n.op == "call_function" and (n.target not in ENTRIES or ENTRIES[n.target].program is None):
            raise ShapeRuleError(n.name, f"no module spelling for {n.target!r}")
    values = build_module(graph, seed)
    return GraphProgram(graph, {n.name: values.get_parameter(n.target) if n.attr_kind == "parameter"
                                else values.get_buffer(n.target) for n in graph.nodes if n.op == "get_attr"})


def _attr_refs(node: Node, attrs: Mapping[str, torch.Tensor]) -> list[tuple[int, Optional[int], Ref]]:
    """The attributes among ``node``'s arguments: ``(position, index in a list argument or None, ref)``."""
    found: list[tuple[int, Optional[int], Ref]] = []
    for i, a in enumerate(node.args):
        items = enumerate(a) if isinstance(a, tuple) else [(None, a)]
        found += [(i, j, b) for j, b in items if isinstance(b, Ref) and b.name in attrs]
    return found


def _module_for(node: Node, attrs: Mapping[str, torch.Tensor], users: Mapping[str, list[str]],
                meta: Meta) -> Optional[torch.nn.Module]:
    """The module of ``node``'s entry owning its parameters, or None if it cannot own them (tied or shared
    tensors, a buffer where the module has a parameter, an activation in a list the module owns, arguments the
    module does not fit). The other tensor arguments are given to the entry's ``module`` as their ``TensorMeta``."""
    entry = ENTRIES[node.target]
    owned = {i: attr for i, attr in enumerate(entry.owns) if attr is not None}
    params = _attr_refs(node, attrs)
    if not params or any(i not in owned for i, _, _ in params) or any(users[a.name] != [node.name]
                                                                     for _, _, a in params):
        return None  # a tied or otherwise shared tensor, or one the module does not own: keep it an attribute
    if any(isinstance(node.args[i], tuple) and sum(p[0] == i for p in params) != len(node.args[i]) for i in owned
           if i < len(node.args)):
        return None

    def value(a):
        if isinstance(a, tuple):
            return tuple(value(b) for b in a)
        return (attrs[a.name] if a.name in attrs else meta[a.name]) if isinstance(a, Ref) else a

    mod = entry.module(Call(tuple(value(a) for a in node.args), dict(node.kwargs)))
    if mod is None:
        return None
    names = []
    for i, j, a in params:
        listed = getattr(mod, owned[i], ()) if j is not None else (owned[i],)
        names.append(listed[j or 0] if (j or 0) < len(listed) else None)
        mine = getattr(mod, names[-1], None) if names[-1] is not None else None
        if not isinstance(mine, torch.Tensor) or mine.shape != attrs[a.name].shape or (
                isinstance(mine, torch.nn.Parameter) != isinstance(attrs[a.name], torch.nn.Parameter)):
            return None
    with torch.no_grad():
        for name, (_, _, a) in zip(names, params):
            getattr(mod, name).copy_(attrs[a.name])
    return mod


def _module_inputs(node: Node) -> list[tuple[int, object]]:
    """The arguments a module owning ``node``'s parameters is called with: the tensor arguments (and lists of
    them) it does not own, by position."""
    owns = ENTRIES[node.target].owns
    return [(i, a) for i, a in enumerate(node.args) if (i >= len(owns) or owns[i] is None) and (
        isinstance(a, Ref) or (isinstance(a, tuple) and a and all(isinstance(b, Ref) for b in a)))]


def _made_for(node: Node, graph: Graph, users: Mapping[str, list[str]]) -> list[str]:
    """The ``torch.zeros`` of the trailing input of ``node``'s module call (not its first), when each is made
    for that call alone: an initial state the module makes itself when it is left out (``nn.GRU``)."""
    inputs = _module_inputs(node)
    if len(inputs) < 2:
        return []
    last = inputs[-1][1]
    refs = list(last) if isinstance(last, tuple) else [last]
    targets = {n.name: n.target for n in graph.nodes}
    if all(targets.get(r.name) == "aten.zeros.default" and set(users[r.name]) == {node.name} for r in refs):
        return [r.name for r in refs]
    return []


def _stateless_module(node: Node, meta: Meta) -> Optional[torch.nn.Module]:
    """The module without parameters ``node`` is called through (``Node.module``, its entry's ``stateless``
    spelling of that class), or None when its arguments do not fit it (the function spelling is written)."""
    make = dict(ENTRIES[node.target].stateless).get(node.module)
    if make is None:
        return None
    args = tuple(meta[a.name] if isinstance(a, Ref) else a for a in node.args)
    return make(Call(args, dict(node.kwargs)))


class GraphProgram(torch.nn.Module):
    """Runs a case graph node by node with ordinary torch calls (see :func:`graph_to_module`)."""

    def __init__(self, graph: Graph, attrs: Mapping[str, torch.Tensor]) -> None:
        super().__init__()
        self._graph = graph
        self._owned_by_module: set[str] = set()
        users = users_of(graph)
        meta = infer_meta(graph)
        # each call's arguments as its program spelling reads them (worked out here: export traces forward only)
        self._calls = {n.name: _positional(n.target, n.args, dict(n.kwargs)) for n in graph.nodes
                       if n.op == "call_function"}
        owned: set[str] = set()
        self._stateless: set[str] = set()
        self._left_out: set[str] = set()  # initial states a module makes itself (_made_for): not computed
        for n in graph.nodes:
            if n.op == "call_function" and n.module:
                mod = _stateless_module(n, meta)
                if mod is not None:
                    self.add_module(n.name, mod)
                    self._stateless.add(n.name)
            elif n.op == "call_function" and ENTRIES[n.target].module is not None:
                mod = _module_for(n, attrs, users, meta)
                if mod is not None:
                    self.add_module(n.name, mod)
                    self._owned_by_module.add(n.name)
                    owned.update(a.name for _, _, a in _attr_refs(n, attrs))
                    self._left_out.update(_made_for(n, graph, users))
        for name, value in attrs.items():
            if name in owned:
                continue
            if isinstance(value, torch.nn.Parameter):
                self.register_parameter(name, torch.nn.Parameter(value.detach().clone()))
            else:
                self.register_buffer(name, value.detach().clone())

    def forward(self, *inputs: torch.Tensor) -> tuple:
        env: dict[str, object] = {}
        for n, x in zip([n for n in self._graph.nodes if n.op == "placeholder"], inputs):
            env[n.name] = x
        for n in self._graph.nodes:
            if n.op == "get_attr" and hasattr(self, n.name):
                env[n.name] = getattr(self, n.name)
            elif n.op == "call_function" and n.name not in self._left_out:
                env[n.name] = self._run(n, env)
        (outs,) = self._graph.nodes[-1].args
        return tuple(env[r.name] for r in outs)

    def _run(self, n: Node, env):
        def v(a):
            if isinstance(a, Ref):
                return env[a.name]
            if isinstance(a, tuple):
                return [v(b) for b in a]
            if isinstance(a, Const):
                return resolve_const(a)
            return a

        if n.name in self._stateless:  # a module without parameters: the input alone
            return getattr(self, n.name)(v(n.args[0]))
        if n.name in self._owned_by_module:  # the module owns the parameters: only the input (and states) passed
            inputs = [a for _, a in _module_inputs(n)]
            last = inputs[-1] if len(inputs) > 1 else None
            if last is not None and (last[0] if isinstance(last, tuple) else last).name in self._left_out:
                inputs = inputs[:-1]
            out = getattr(self, n.name)(*(v(a) if isinstance(a, Ref) else tuple(v(a)) for a in inputs))
            if isinstance(out, tuple) and any(isinstance(o, tuple) for o in out):  # nn.LSTM: (y, (h, c))
                return tuple(p for o in out for p in (o if isinstance(o, tuple) else (o,)))
            return out
        args, kwargs = self._calls[n.name]
        return ENTRIES[n.target].program(Call(tuple(v(a) for a in args), {k: v(a) for k, a in kwargs.items()}))


def _positional(target: str, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``(args, kwargs)`` of a call with every argument that is not keyword-only given by position (schema
    defaults filling the gaps), as the program spellings read them: ``mean(x, dim=(-1,))`` -> ``mean(x, (-1,))``."""
    if target == "getitem" or not kwargs:
        return args, kwargs
    schema = resolve_op(target)._schema.arguments
    given = dict(zip((a.name for a in schema), args)) | kwargs
    positional = [a for a in schema if not a.kwarg_only]
    last = max((i for i, a in enumerate(positional) if a.name in given), default=-1)
    if any(a.name not in given and not a.has_default_value() for a in positional[:last + 1]):
        return args, kwargs
    return (tuple(given[a.name] if a.name in given else a.default_value for a in positional[:last + 1]),
            {a.name: given[a.name] for a in schema if a.kwarg_only and a.name in given})


def _meta_of_value(value) -> Union[TensorMeta, tuple, None]:
    if isinstance(value, torch.Tensor):
        return TensorMeta(tuple(int(d) for d in value.shape), str(value.dtype).replace("torch.", ""))
    if isinstance(value, (list, tuple)) and all(isinstance(x, torch.Tensor) for x in value):
        return tuple(_meta_of_value(x) for x in value)
    return None


@functools.lru_cache(maxsize=512)
def export_graph(graph: Graph, seed: int = 0) -> tuple[Graph, tuple[tuple[str, object], ...]]:
    """``torch.export`` the module program of ``graph`` (:func:`graph_to_module`) and read the case back.

    Returns the extracted graph and its node values as ``(name, TensorMeta | tuple | None)`` pairs (from the
    FakeTensors export computed). Cached per graph.
    """
    gm = export_module(graph_to_module(graph, seed), example_inputs(graph, seed))
    exported = extract_case(gm).graph
    meta = tuple((n.name, _meta_of_value(n.meta.get("val"))) for n in gm.graph.nodes)
    return exported, meta


def _exported_graph(draw, min_nodes: int, max_nodes: int, ops: Optional[Iterable[str]]) -> tuple[Graph, Meta]:
    source = draw(graphs(min_nodes, max_nodes, EXPORTABLE_OPS if ops is None else ops, variants=False))
    graph, meta_pairs = export_graph(source)
    return graph, dict(meta_pairs)  # type: ignore[arg-type]


EXPORTED = GraphSource(_exported_graph, "exported", ("generated", "exported"))


def exported_cases(mode: str = "valid", max_nodes: int = 8, **options) -> st.SearchStrategy[Case]:
    """Cases whose graph is what ``torch.export.export(m, inputs).module()`` gives for a random module program:
    :func:`harness.strategies.cases.cases` with graphs from :data:`EXPORTED` (``options`` are its own).

    Annotations are drawn for the exported graph (``mode`` valid or adversarial; adversarial cases carry
    ``expected.error`` and end ``info.tags`` with their kind).
    """
    return cases(mode, max_nodes=max_nodes, source=EXPORTED, **options)
