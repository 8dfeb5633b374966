"""Predicates over case data and hypothesis settings shared by the strategies' tests (tests/strategies): what a
case's annotations hold (shared and derived cycles, dangling references, annotated non-inputs, the adversarial kind
each defect is), and torchao's prepare run on a case with its failures judged against its known bugs."""

from __future__ import annotations

import sys

from hypothesis import HealthCheck, Phase, settings
from torchao.quantization.pt2e.prepare import prepare as torchao_prepare

import prepare_impl
from harness.case import Case, DerivedSpec, EdgeRef, FixedSpec, Graph, NodeRef, SharedSpec, walks
from harness.check import known_bugs
from harness.fx.build import build

FAST = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(FAST, max_examples=20)
# find() is derandomized: the same examples every run, so a feature that exists is always found.
FIND = settings(max_examples=3000, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
# Coverage checks only need an example, not a minimal one: no shrinking.
REACH = settings(FIND, phases=[Phase.generate])


# ---- helpers over case data --------------------------------------------------------------------


def refs(x):
    return list(walks.refs(x))


def op_nodes(graph: Graph):
    return [n for n in graph.nodes if n.op == "call_function" and n.target != "getitem"]


def spec_map(case: Case) -> dict:
    """Target -> spec of every key (non-None spec), like prepare's edge_or_node_to_qspec."""
    out = {}
    for a in case.annotations:
        for arg, spec in a.inputs:
            if spec is not None:
                out[EdgeRef(arg, a.node)] = spec
        if a.output is not None:
            out[NodeRef(a.node)] = a.output
    return out


def annotation_order(case: Case) -> list:
    by_node = {a.node: a for a in case.annotations}
    keys = []
    for n in case.graph.nodes:
        a = by_node.get(n.name)
        if a:
            keys += [EdgeRef(arg, n.name) for arg, s in a.inputs if s is not None]
            keys += [NodeRef(n.name)] if a.output is not None else []
    return keys


def shared_cycle(case: Case):
    """A cycle of SharedSpec references (list of targets), or None."""
    specs = spec_map(case)
    for start in specs:
        path, t = [], start
        while isinstance(specs.get(t), SharedSpec) and t not in path:
            path.append(t)
            t = specs[t].target
        if t in path:
            return path[path.index(t):]
    return None


def derived_cycle(case: Case) -> bool:
    """Whether derived specs depend on each other in a cycle (following shared references to their roots)."""
    specs = spec_map(case)

    def root(t, seen=()):
        s = specs.get(t)
        return root(s.target, seen + (t,)) if isinstance(s, SharedSpec) and t not in seen else t

    deps = {k: [root(d) for d in s.derived_from] for k, s in specs.items() if isinstance(s, DerivedSpec)}

    def reaches(a, b, seen):
        return any(d == b or (d not in seen and reaches(d, b, seen | {d})) for d in deps.get(a, ()))

    return any(reaches(k, k, {k}) for k in deps)


def dangling(case: Case) -> bool:
    specs = spec_map(case)
    for s in specs.values():
        targets = [s.target] if isinstance(s, SharedSpec) else list(s.derived_from) if isinstance(s, DerivedSpec) else []
        if any(t not in specs for t in targets):
            return True
    return False


def not_an_input(case: Case) -> bool:
    for a in case.annotations:
        node = case.graph.node(a.node)
        inputs = set(refs((node.args, node.kwargs)))
        if any(arg not in inputs for arg, _ in a.inputs):
            return True
    return False


def tensor_kwarg_annotated(case: Case) -> bool:
    return any(refs(tuple(v for _, v in case.graph.node(a.node).kwargs)) for a in case.annotations)


CHECK_KIND = {
    "dangling_shared": lambda c: dangling(c) and any(isinstance(s, SharedSpec) and s.target not in spec_map(c)
                                                     for s in spec_map(c).values()),
    "dangling_derived": lambda c: dangling(c) and any(isinstance(s, DerivedSpec) and
                                                      any(t not in spec_map(c) for t in s.derived_from)
                                                      for s in spec_map(c).values()),
    "shared_cycle": lambda c: shared_cycle(c) is not None and len(shared_cycle(c)) >= 2,
    "self_reference": lambda c: any(isinstance(s, SharedSpec) and s.target == k for k, s in spec_map(c).items()),
    "derived_cycle": derived_cycle,
    "not_an_input": not_an_input,
    "tensor_kwarg": tensor_kwarg_annotated,
}


def _compat(spec):
    """What torchao's implicit sharing compares (an attribute a spec class lacks counts as its own value)."""
    if spec is None or isinstance(spec, SharedSpec):
        return None
    common = (spec.dtype, spec.is_dynamic, spec.quant_min, spec.quant_max, spec.qscheme)
    if isinstance(spec, FixedSpec):
        return common + ("-", spec.scale, spec.zero_point)
    return common + (spec.ch_axis, "-", "-")


def shared_edge_on_cycle(case: Case) -> bool:
    """Some SharedSpec reference lies on a cycle of the undirected sharing graph: its referrer and target are also
    linked by other explicit references or by torchao's implicit sharing (an input edge whose node allows it, with
    its producer's other input edges and output, when their resolved specs agree).

    Such annotations are valid and acyclic as references, but torchao's union-find can then make the referrer the
    root of the group that holds its target (the ao#3011 reversal only checks the direct child root), and
    ``_unwrap_shared_qspec`` recurses forever. Found by these strategies; minimal cases in the helper's report.
    """
    specs = spec_map(case)
    allow = {a.node: a.allow_implicit_sharing for a in case.annotations}

    def root(k):
        seen = set()
        while isinstance(specs.get(k), SharedSpec) and k not in seen:
            seen.add(k)
            k = specs[k].target
        return specs.get(k)

    links = []  # (key, key, explicit?)
    for k, spec in specs.items():
        if isinstance(spec, SharedSpec) and spec.target in specs:
            links.append((k, spec.target, True))
        if isinstance(k, EdgeRef) and allow.get(k.node) and _compat(root(k)) is not None:
            same_value = [o for o in specs if o != k and ((isinstance(o, EdgeRef) and o.arg == k.arg)
                                                          or o == NodeRef(k.arg))]
            links += [(k, o, False) for o in same_value if _compat(root(o)) == _compat(root(k))]
    for i, (u, v, explicit) in enumerate(links):
        if not explicit:
            continue
        adj: dict = {}
        for j, (a, b, _) in enumerate(links):
            if j != i:
                adj.setdefault(a, set()).add(b)
                adj.setdefault(b, set()).add(a)
        stack, seen = [u], {u}
        while stack:
            x = stack.pop()
            if x == v:
                return True
            for y in adj.get(x, set()) - seen:
                seen.add(y)
                stack.append(y)
    return False


# ---- torchao on a case ------------------------------------------------------------------------------


def run_torchao(case: Case):
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(600)  # the known recursion bug hits the limit; keep that fast
    try:
        model = torchao_prepare(build(case), {}, case.is_qat)
    except Exception as e:  # noqa: BLE001 - judged by the caller
        return None, e
    finally:
        sys.setrecursionlimit(limit)
    return model, None


def excused(case: Case, error: BaseException) -> bool:
    """Whether torchao's failure on a valid case is one of its known bugs."""
    if isinstance(error, RecursionError) and shared_edge_on_cycle(case):
        return True
    original = build(case)
    analysis = prepare_impl.sharing_groups(original)
    obs = known_bugs.Observed(unprepared=lambda: (original, analysis), analysis=analysis, reference_error=None,
                              candidate_error=error)
    bug = known_bugs.match(obs)
    return bug is not None and bug.id.startswith("ao-4421")
