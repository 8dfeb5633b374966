"""The edits that make a case smaller, for the greedy reducer: pure functions on case data.

The rule: :func:`smaller_cases` yields, in a fixed order, every case one edit away from the given one, each smaller
by a well-founded measure (fewer nodes, outputs, annotations, specs, arguments, or a simpler op or flag), so a
greedy reducer that keeps an edit only when the case still fails the same way ends at a fixpoint. The edits:

1. delete a node nobody uses, or a node whose users can be rewired to one of its own inputs (its annotation goes,
   references to it follow the rewiring, a spec naming an edge into it becomes ``None``);
2. drop one value of the graph's output (then its producers may be unused), or have it read from the last op
   instead of an input or attribute;
3. (when the check reads the annotations) delete an annotation, one of its input specs, or its output spec; set
   ``allow_implicit_sharing`` back to True;
4. replace an op by ``relu`` of its first input (its function spelling); call an op by its function, not through
   a module (``Node.module``); drop a keyword argument; a QAT case becomes a PTQ case, a strict export a non-strict
   one.

An edit may give a case that does not build: the check rejects it (it does not fail *the same way*).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator, Optional

from harness.case import (Case, DerivedSpec, EdgeRef, Graph, Node, NodeAnnotation, NodeRef, Ref, SharedSpec, Spec,
                          Target)
from harness.case.walks import inputs_of, map_refs, users_of

__all__ = ["smaller_cases", "size"]

SIMPLEST_OP = "aten.relu.default"


def size(case: Case) -> tuple[int, int]:
    """(nodes, annotations): what the shrink command reports."""
    return len(case.graph.nodes), len(case.annotations)


def _map_spec(spec: Optional[Spec], fn: Callable[[Target], Optional[Target]]) -> Optional[Spec]:
    """``spec`` with its targets mapped by ``fn``; ``None`` when a target it needs is gone."""
    if isinstance(spec, SharedSpec):
        target = fn(spec.target)
        return None if target is None else SharedSpec(target)
    if isinstance(spec, DerivedSpec):
        sources = tuple(fn(t) for t in spec.derived_from)
        return None if any(t is None for t in sources) else replace(spec, derived_from=sources)
    return spec


def _remove_node(case: Case, name: str, into: Optional[str]) -> Case:
    """``case`` without node ``name``; its users read ``into`` instead (``None``: it has no users)."""
    def rename(n: str) -> str:
        return into if n == name and into is not None else n

    def target(t: Target) -> Optional[Target]:
        if isinstance(t, NodeRef):
            return NodeRef(rename(t.name)) if into is not None or t.name != name else None
        if t.node == name or (t.arg == name and into is None):
            return None
        return EdgeRef(rename(t.arg), t.node)

    nodes = tuple(replace(n, args=map_refs(n.args, rename), kwargs=map_refs(n.kwargs, rename))
                  for n in case.graph.nodes if n.name != name)
    annotations = []
    for a in case.annotations:
        if a.node == name:
            continue
        inputs, keys = [], set()
        for arg, spec in a.inputs:
            if arg == name and into is None:
                continue
            key = rename(arg)
            if key not in keys:
                keys.add(key)
                inputs.append((key, _map_spec(spec, target)))
        annotations.append(replace(a, inputs=tuple(inputs), output=_map_spec(a.output, target)))
    return replace(case, graph=Graph(nodes), annotations=tuple(annotations))


def _node_deletions(case: Case) -> Iterator[Case]:
    users = users_of(case.graph)
    for n in reversed(case.graph.nodes):  # the last nodes first: deleting them frees their inputs
        if n.op == "output":
            continue
        if not users[n.name]:
            yield _remove_node(case, n.name, None)
        elif n.op == "call_function":
            for into in dict.fromkeys(inputs_of(n)):
                yield _remove_node(case, n.name, into)


def _output_drops(case: Case) -> Iterator[Case]:
    for i, n in enumerate(case.graph.nodes):
        if n.op != "output" or len(n.args) != 1 or not isinstance(n.args[0], tuple) or len(n.args[0]) < 2:
            continue
        for j in range(len(n.args[0])):
            out = replace(n, args=(n.args[0][:j] + n.args[0][j + 1:],))
            yield replace(case, graph=Graph(case.graph.nodes[:i] + (out,) + case.graph.nodes[i + 1:]))


def _output_moves(case: Case) -> Iterator[Case]:
    """An output value that is an input or attribute read from the last op instead (the input may then go)."""
    ops = [n.name for n in case.graph.nodes if n.op == "call_function"]
    plain = {n.name for n in case.graph.nodes if n.op in ("placeholder", "get_attr")}
    for i, n in enumerate(case.graph.nodes):
        if n.op != "output" or len(n.args) != 1 or not isinstance(n.args[0], tuple) or not ops:
            continue
        for j, value in enumerate(n.args[0]):
            if isinstance(value, Ref) and value.name in plain and Ref(ops[-1]) not in n.args[0]:
                out = replace(n, args=(n.args[0][:j] + (Ref(ops[-1]),) + n.args[0][j + 1:],))
                yield replace(case, graph=Graph(case.graph.nodes[:i] + (out,) + case.graph.nodes[i + 1:]))


def _annotation_edits(case: Case) -> Iterator[Case]:
    anns = case.annotations
    for i in range(len(anns)):
        yield replace(case, annotations=anns[:i] + anns[i + 1:])
    for i, a in enumerate(anns):
        def with_(b: NodeAnnotation) -> Case:
            return replace(case, annotations=anns[:i] + (b,) + anns[i + 1:])

        for j in range(len(a.inputs)):
            yield with_(replace(a, inputs=a.inputs[:j] + a.inputs[j + 1:]))
        if a.output is not None:
            yield with_(replace(a, output=None))
        if not a.allow_implicit_sharing:
            yield with_(replace(a, allow_implicit_sharing=True))


def _node_simplifications(case: Case) -> Iterator[Case]:
    nodes = case.graph.nodes
    for i, n in enumerate(nodes):
        if n.op != "call_function":
            continue
        def with_(m: Node) -> Case:
            return replace(case, graph=Graph(nodes[:i] + (m,) + nodes[i + 1:]))

        first = next(iter(inputs_of(n)), None)
        if n.target not in (SIMPLEST_OP, "getitem") and first is not None:
            yield with_(replace(n, target=SIMPLEST_OP, args=(Ref(first),), kwargs=(), module=""))
        if n.module:
            yield with_(replace(n, module=""))
        for j in range(len(n.kwargs)):
            yield with_(replace(n, kwargs=n.kwargs[:j] + n.kwargs[j + 1:]))


def smaller_cases(case: Case, annotations: bool = True) -> Iterator[Case]:
    """Every case one edit away from ``case``, in the order of the module docstring; ``annotations``: also edit
    the annotations (not when the check replaces them)."""
    yield from _node_deletions(case)
    yield from _output_drops(case)
    yield from _output_moves(case)
    if annotations:
        yield from _annotation_edits(case)
    yield from _node_simplifications(case)
    if case.is_qat:
        yield replace(case, is_qat=False)
    if case.strict_export:
        yield replace(case, strict_export=False)
