"""Properties every correctly prepared model has, as reusable checkers.

Each checker is ``check_x(ctx: CheckContext) -> list[Violation]``: it reads the annotated model
(``ctx.original``, never mutated), the prepared one (``ctx.prepared``; models are only run on deep
copies) and optional extra knowledge (``ctx.expected_groups``: the sharing partition a correct prepare
must produce; ``ctx.example_inputs``), and returns one :class:`Violation` per problem, in plain words
naming the nodes and edges at fault. Checkers that need knowledge the context lacks return ``[]``.

Keys and "which observer observes a key" are those of :mod:`harness.check.canonical`.

Upstream semantics respected (torchao ``prepare``), see :func:`exempt_keys`:

* an annotated output whose ``meta["val"]`` is not a ``FakeTensor`` is never observed;
* an annotated edge whose argument is the destination written in place by a mutating op (first argument
  of e.g. ``copy_``, produced from module buffers only, without graph inputs) is not observed -- unless
  that destination has an annotated output, whose observer the op then reads (torchao only recognises
  the destination when the op reads it directly);
* an edge in the same group as its producer's output is observed by that output's observer, so an edge
  sharing with an exempt output is not observed either.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence

import torch
from torch.fx import GraphModule, Node

from harness.check.keys import annotated_keys, key_of, output_key, parse_key
from harness.check.observer_map import ObserverMap, is_observer_module, locate_observers

__all__ = [
    "CHECKS",
    "CheckContext",
    "ExpectedGroup",
    "Violation",
    "check_all",
    "check_annotated_edges_observed",
    "check_convert_state",
    "check_derived_sources",
    "check_float_semantics",
    "check_graph_well_formed",
    "check_no_cyclic_sharing",
    "check_observer_matches_spec",
    "check_one_observer_per_group",
    "exempt_keys",
    "expected_groups_from_analysis",
    "expected_groups_from_upstream",
]


@dataclass(frozen=True)
class Violation:
    """One broken property: the checker's name, a plain-words message, optional structured details."""

    check: str
    message: str
    details: Optional[dict] = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


@dataclass(frozen=True)
class ExpectedGroup:
    """A group of keys (``"edge:a->n"`` / ``"out:n"``) that must share one observer, and the group's spec.

    ``spec`` is the concrete torchao spec object the group's observer is built from (a
    ``QuantizationSpec``, ``FixedQParamsQuantizationSpec`` or ``DerivedQuantizationSpec``), or ``None``
    when unknown.
    """

    keys: frozenset
    spec: Any = None


@dataclass
class CheckContext:
    """What the checkers look at. ``original`` is the annotated model prepare was given (unmutated)."""

    original: GraphModule
    prepared: GraphModule
    is_qat: bool = False
    expected_groups: Optional[Sequence[ExpectedGroup]] = None
    example_inputs: Optional[tuple] = None

    def observers(self) -> ObserverMap:
        """:func:`harness.check.canonical.locate_observers` for this context (recomputed: the graph may change)."""
        return locate_observers(self.original, self.prepared)

    def group_index(self) -> dict[str, int]:
        """Key -> index of its expected group (empty without expected groups)."""
        if self.expected_groups is None:
            return {}
        return {k: i for i, g in enumerate(self.expected_groups) for k in g.keys}


# ---- building expected groups ------------------------------------------------------------------


def expected_groups_from_analysis(analysis: Any) -> list[ExpectedGroup]:
    """Convert ``prepare_impl.sharing_groups(model)`` (groups with ``members`` and ``spec``)."""
    return [
        ExpectedGroup(keys=frozenset(key_of(m) for m in g.members), spec=g.spec)
        for g in analysis.groups
    ]


def expected_groups_from_upstream(original: GraphModule) -> list[ExpectedGroup]:
    """The partition torchao's own prepare computes for ``original`` (via its private grouping helpers).

    Only keys with a non-``None`` spec are kept; a group's spec is the spec of its first key in
    annotation order (the one torchao builds the observer from). Useful to check torchao against the
    checkers, and in tests.
    """
    from torchao.quantization.pt2e.prepare import (
        _get_edge_or_node_to_group_id,
        _get_edge_or_node_to_qspec,
    )

    qspecs = _get_edge_or_node_to_qspec(original)
    group_id = _get_edge_or_node_to_group_id(qspecs)
    members: dict[int, list[str]] = {}
    spec_of: dict[int, Any] = {}
    for eon, spec in qspecs.items():
        if spec is None:
            continue
        gid = group_id[eon]
        members.setdefault(gid, []).append(key_of(eon))
        spec_of.setdefault(gid, spec)
    return [ExpectedGroup(keys=frozenset(members[g]), spec=spec_of[g]) for g in members]


# ---- helpers -----------------------------------------------------------------------------------


def _nodes_by_name(gm: GraphModule) -> dict[str, Node]:
    return {n.name: n for n in gm.graph.nodes}


def _is_fake_tensor(value: Any) -> bool:
    from torch._subclasses import FakeTensor

    return isinstance(value, FakeTensor)


def _buffer_only_producers(arg: Node) -> Optional[list[Node]]:
    """Nodes ``arg`` is computed from, or ``None`` when a graph input (placeholder) feeds it."""
    seen = [arg]
    frontier = [arg]
    while frontier:
        cur = frontier.pop()
        for a in list(cur.args) + list(cur.kwargs.values()):
            if not isinstance(a, Node):
                continue
            if a.op == "placeholder":
                return None
            seen.append(a)
            if not (a.op == "call_function" and a.target is getattr):
                frontier.append(a)
    return seen


def _is_inplace_buffer_destination(node: Node, arg: Node, buffer_names: set) -> bool:
    """Whether ``arg`` is the in-place written first argument of ``node``, computed from buffers only."""
    schema = getattr(node.target, "_schema", None)
    if node.op != "call_function" or schema is None or not node.args or node.args[0] is not arg:
        return False
    if not schema.arguments or schema.arguments[0].alias_info is None:
        return False
    if not schema.arguments[0].alias_info.is_write:
        return False
    producers = _buffer_only_producers(arg)
    if producers is None:
        return False
    return any(p.op == "get_attr" and str(p.target) in buffer_names for p in producers)


def exempt_keys(original: GraphModule, expected_groups: Optional[Sequence[ExpectedGroup]] = None) -> dict[str, str]:
    """Annotated keys upstream semantics leave unobserved, each with the reason in plain words."""
    keys = annotated_keys(original)
    nodes = _nodes_by_name(original)
    buffer_names = {name for name, _ in original.named_buffers(remove_duplicate=False)}
    out: dict[str, str] = {}
    for key in keys:
        kind, a, n = parse_key(key)
        if kind == "out":
            node = nodes.get(a)
            if node is not None and not _is_fake_tensor(node.meta.get("val")):
                out[key] = f"the output of {a} is not a tensor (meta['val'] is not a FakeTensor)"
        else:
            node, arg = nodes.get(n), nodes.get(a)
            if node is None or arg is None or output_key(a) in keys:
                continue
            if _is_inplace_buffer_destination(node, arg, buffer_names):
                out[key] = f"{a} is the buffer {n} writes in place"
    if expected_groups is not None:
        index = {k: i for i, g in enumerate(expected_groups) for k in g.keys}
        for key in keys:
            kind, a, n = parse_key(key)
            ok = output_key(a)
            if kind == "edge" and ok in out and key in index and index.get(ok) == index[key]:
                out.setdefault(key, f"it shares the observer of the output of {a}, which is not observed")
    return out


def _obs_name(om: ObserverMap, module: Any) -> str:
    """A readable name for an observer instance: the target of the first node running it."""
    for o in om.observer_nodes:
        if om.module(o) is module:
            return str(o.target)
    return f"<{type(module).__name__} not in the graph>"


def _key_text(key: str) -> str:
    kind, a, n = parse_key(key)
    return f"edge {a} -> {n}" if kind == "edge" else f"output of {a}"


def _keys_text(keys: Iterable[str]) -> str:
    return ", ".join(_key_text(k) for k in sorted(keys))


# ---- 1. one observer per group -----------------------------------------------------------------


def check_one_observer_per_group(ctx: CheckContext) -> list[Violation]:
    """All observed keys of an expected group share one instance; distinct groups use distinct ones."""
    if ctx.expected_groups is None:
        return []
    om = ctx.observers()
    exempt = exempt_keys(ctx.original, ctx.expected_groups)
    violations = []
    owner: dict[int, list[int]] = {}
    all_mods: dict[int, Any] = {}
    for gi, g in enumerate(ctx.expected_groups):
        by_mod: dict[int, list[str]] = {}
        mods: dict[int, Any] = {}
        for key in sorted(g.keys):
            mod = om.key_module(key)
            if key in exempt or mod is None:
                continue
            by_mod.setdefault(id(mod), []).append(key)
            mods[id(mod)] = mod
        if len(by_mod) > 1:
            parts = "; ".join(f"{_keys_text(ks)} by {_obs_name(om, mods[m])}" for m, ks in by_mod.items())
            violations.append(
                Violation(
                    "one_observer_per_group",
                    f"the group {{{_keys_text(g.keys)}}} must share one observer but uses {len(by_mod)}: {parts}",
                    {"group": sorted(g.keys), "observers": {_obs_name(om, mods[m]): ks for m, ks in by_mod.items()}},
                )
            )
        for m in by_mod:
            owner.setdefault(m, []).append(gi)
        all_mods.update(mods)
    for m, gis in owner.items():
        if len(gis) > 1:
            name = _obs_name(om, all_mods[m])
            groups = " and ".join("{" + _keys_text(ctx.expected_groups[i].keys) + "}" for i in gis)
            violations.append(
                Violation(
                    "one_observer_per_group",
                    f"the groups {groups} must have distinct observers but share {name}",
                    {"observer": name, "groups": [sorted(ctx.expected_groups[i].keys) for i in gis]},
                )
            )
    return violations


# ---- 2. no cyclic sharing ----------------------------------------------------------------------


def _shared_target(spec: Any) -> Optional[str]:
    from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

    if isinstance(spec, SharedQuantizationSpec):
        return key_of(spec.edge_or_node)
    return None


def check_no_cyclic_sharing(ctx: CheckContext) -> list[Violation]:
    """The SharedQuantizationSpec references of the annotations form no cycle (each cycle reported once)."""
    keys = annotated_keys(ctx.original)
    points = {k: t for k, spec in keys.items() if (t := _shared_target(spec)) is not None}
    violations = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in keys:
        path: list[str] = []
        k: Optional[str] = start
        while k is not None and state.get(k) is None:
            state[k] = 1
            path.append(k)
            k = points.get(k)
        if k is not None and state.get(k) == 1:
            cycle = path[path.index(k):] + [k]
            violations.append(
                Violation(
                    "no_cyclic_sharing",
                    "SharedQuantizationSpec references form a cycle: " + " -> ".join(_key_text(c) for c in cycle),
                    {"cycle": cycle},
                )
            )
        for p in path:
            state[p] = 2
    return violations


# ---- 3. annotated edges observed, nothing else --------------------------------------------------


def check_annotated_edges_observed(ctx: CheckContext) -> list[Violation]:
    """Every annotated key is observed on every path to its consumers, and nothing unannotated is."""
    om = ctx.observers()
    keys = om.keys
    exempt = exempt_keys(ctx.original, ctx.expected_groups)
    index = ctx.group_index()
    have_groups = ctx.expected_groups is not None
    prepared_nodes = _nodes_by_name(ctx.prepared)
    obs_set = set(om.observer_nodes)
    v: list[Violation] = []

    def add(msg: str, **details: Any) -> None:
        v.append(Violation("annotated_edges_observed", msg, details or None))

    def required(key: str) -> bool:
        return key in keys and key not in exempt

    # outputs
    for key in keys:
        kind, a, _ = parse_key(key)
        if kind != "out" or not required(key):
            continue
        if a not in prepared_nodes:
            add(f"{a} has an annotated output but is missing from the prepared graph", key=key)
            continue
        attached = om.attached.get(a, [])
        if not attached:
            add(f"the output of {a} is annotated but not observed", key=key)
            continue
        if len({id(om.module(o)) for o in attached}) > 1:
            add(
                f"the output of {a} has {len(attached)} different observers reading it directly "
                f"({', '.join(o.name for o in attached)}); its users must all read one output observer",
                key=key,
            )
        for user in prepared_nodes[a].users:
            if user not in obs_set:
                add(f"{user.name} reads {a} directly, bypassing the observer of its annotated output", key=key)

    # annotated edges with their consumer reading the producer directly
    for key in keys:
        kind, a, n = parse_key(key)
        if kind != "edge" or not required(key) or a not in prepared_nodes or n not in prepared_nodes:
            continue
        if not have_groups and output_key(a) in exempt:
            continue  # may legitimately share the (never inserted) observer of the exempt output
        for i, chain in enumerate(om.edge_chains.get(key, [])):
            if not chain:
                where = "" if len(om.edge_chains[key]) == 1 else f" (occurrence {i + 1})"
                add(f"{n} reads {a} directly{where} although the edge {a} -> {n} is annotated", key=key)

    # the shape of every chain: output observer, then at most an edge observer of another group
    for ek, chains in om.edge_chains.items():
        _, a, n = parse_key(ek)
        ok = output_key(a)
        out_req = required(ok)
        edge_req = required(ek)
        for chain in chains:
            if not chain:
                continue
            rest = chain[1:] if out_req else list(chain)
            if not edge_req:
                if rest:
                    what = "not annotated" if ek not in keys else f"not observed upstream: {exempt[ek]}"
                    add(
                        f"extra observer(s) {', '.join(o.name for o in rest)} on the edge {a} -> {n}, which is {what}",
                        key=ek,
                        observers=[o.name for o in rest],
                    )
                continue
            if out_req and have_groups and ek in index and index.get(ok) == index[ek]:
                if rest:
                    add(
                        f"the edge {a} -> {n} shares its group with the output of {a} but has its own "
                        f"observer(s) {', '.join(o.name for o in rest)} after {chain[0].name}",
                        key=ek,
                    )
            elif out_req and have_groups:
                if len(rest) != 1:
                    add(
                        f"the edge {a} -> {n} is in a different group than the output of {a}, so it needs "
                        f"exactly one observer after {chain[0].name}; found {len(rest)}",
                        key=ek,
                    )
            elif out_req:
                if len(rest) > 1:
                    add(f"the edge {a} -> {n} goes through {len(chain)} observers; at most 2 expected", key=ek)
                elif rest and om.module(rest[0]) is om.module(chain[0]):
                    add(
                        f"the edge {a} -> {n} is observed twice by the same instance "
                        f"({chain[0].name} then {rest[0].name})",
                        key=ek,
                    )
            elif len(rest) > 1:
                add(f"the edge {a} -> {n} goes through {len(rest)} observers; one expected", key=ek)
    # observers attached to a node whose output needs none and that no annotated edge reads through
    for a, attached in om.attached.items():
        if required(output_key(a)):
            continue
        for o in attached:
            if not o.users:
                add(f"observer {o.name} on {a} has no users and {a}'s output is not annotated", observer=o.name)
    return v


# ---- 4. observer configuration matches the group spec -------------------------------------------


def _ctor_class(ctor: Any) -> Any:
    """The class a constructor (a class, or ``Cls.with_args(...)``) builds."""
    p = getattr(ctor, "p", None)
    if p is not None and hasattr(p, "func"):
        return _ctor_class(p.func)
    return ctor


def _ctor_keywords(ctor: Any) -> dict:
    p = getattr(ctor, "p", None)
    return dict(getattr(p, "keywords", {}) or {}) if p is not None else {}


_PER_CHANNEL = (torch.per_channel_affine, torch.per_channel_symmetric, torch.per_channel_affine_float_qparams)


def _expected_observer(spec: Any, is_qat: bool) -> Optional[tuple[Any, Any, dict]]:
    """(class, inner class or None, {field: value}) a correct prepare builds for root spec ``spec``."""
    from torchao.quantization.pt2e import DerivedObserverOrFakeQuantize
    from torchao.quantization.pt2e.fake_quantize import FixedQParamsFakeQuantize
    from torchao.quantization.pt2e.observer import FixedQParamsObserver
    from torchao.quantization.pt2e.quantizer import (
        DerivedQuantizationSpec,
        FixedQParamsQuantizationSpec,
        QuantizationSpec,
    )

    fields: dict[str, Any] = {}
    for name in ("dtype", "quant_min", "quant_max", "qscheme"):
        value = getattr(spec, name, None)
        if value is not None:
            fields[name] = value
    if getattr(spec, "qscheme", None) in _PER_CHANNEL and getattr(spec, "ch_axis", None) is not None:
        fields["ch_axis"] = spec.ch_axis
    if isinstance(spec, QuantizationSpec):
        fields["is_dynamic"] = spec.is_dynamic
        ctor = spec.observer_or_fake_quant_ctr
        inner = _ctor_keywords(ctor).get("observer")
        return _ctor_class(ctor), (None if inner is None else _ctor_class(inner)), fields
    if isinstance(spec, FixedQParamsQuantizationSpec):
        fields["scale"] = spec.scale
        fields["zero_point"] = spec.zero_point
        if is_qat:
            return FixedQParamsFakeQuantize, FixedQParamsObserver, fields
        return FixedQParamsObserver, None, fields
    if isinstance(spec, DerivedQuantizationSpec):
        fields["derive_qparams_fn"] = spec.derive_qparams_fn
        return DerivedObserverOrFakeQuantize, None, fields
    return None


def _same(field_name: str, expected: Any, actual: Any) -> bool:
    if field_name == "derive_qparams_fn":
        return actual is expected or actual == expected
    if field_name in ("scale",):
        a = torch.as_tensor(actual, dtype=torch.float32).flatten()
        return a.numel() == 1 and a.item() == torch.tensor(float(expected), dtype=torch.float32).item()
    if field_name == "zero_point":
        a = torch.as_tensor(actual).flatten()
        return a.numel() == 1 and int(a.item()) == int(expected)
    return actual == expected


def check_observer_matches_spec(ctx: CheckContext) -> list[Violation]:
    """Each expected group's observer has the class and configuration its spec asks for.

    A ``QuantizationSpec`` builds its own ``observer_or_fake_quant_ctr`` (with its inner observer for a
    fake quant); fixed qparams build ``FixedQParamsObserver`` in PTQ and ``FixedQParamsFakeQuantize``
    in QAT; derived specs build ``DerivedObserverOrFakeQuantize``. Then dtype, quant_min, quant_max,
    qscheme, ch_axis (per-channel), is_dynamic, fixed scale/zero_point and derive function must match.
    """
    if ctx.expected_groups is None:
        return []
    om = ctx.observers()
    v = []
    for g in ctx.expected_groups:
        if g.spec is None:
            continue
        expected = _expected_observer(g.spec, ctx.is_qat)
        if expected is None:
            continue
        mod = next((m for k in sorted(g.keys) if (m := om.key_module(k)) is not None), None)
        if mod is None:
            continue
        cls, inner_cls, fields = expected
        name = _obs_name(om, mod)
        gtext = "{" + _keys_text(g.keys) + "}"
        if type(mod) is not cls:
            v.append(
                Violation(
                    "observer_matches_spec",
                    f"{name} observing {gtext} is a {type(mod).__name__}, the spec asks for "
                    f"{getattr(cls, '__name__', cls)}",
                    {"observer": name, "field": "class"},
                )
            )
            continue
        if inner_cls is not None:
            inner = getattr(mod, "activation_post_process", None)
            if type(inner) is not inner_cls:
                v.append(
                    Violation(
                        "observer_matches_spec",
                        f"{name} observing {gtext} wraps a {type(inner).__name__}, the spec asks for "
                        f"{getattr(inner_cls, '__name__', inner_cls)}",
                        {"observer": name, "field": "inner"},
                    )
                )
        for fname, want in fields.items():
            if not hasattr(mod, fname):
                got: Any = "<missing>"
                ok = False
            else:
                got = getattr(mod, fname)
                ok = _same(fname, want, got)
            if not ok:
                v.append(
                    Violation(
                        "observer_matches_spec",
                        f"{name} observing {gtext} has {fname}={_short(got)}, the spec asks for {_short(want)}",
                        {"observer": name, "field": fname},
                    )
                )
    return v


def _short(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return str(value.tolist())
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    return str(value)


# ---- 5. derived sources ------------------------------------------------------------------------


def _resolve_spec(key: str, keys: dict[str, Any]) -> Any:
    """Follow SharedQuantizationSpec references from ``key`` to a non-shared spec (None on a cycle/dangle)."""
    seen = set()
    spec = keys.get(key)
    while (t := _shared_target(spec)) is not None:
        if t in seen:
            return None
        seen.add(t)
        spec = keys.get(t)
    return spec


def check_derived_sources(ctx: CheckContext) -> list[Violation]:
    """Each DerivedObserverOrFakeQuantize's ``obs_or_fqs`` are, in order, the observers of its spec's
    ``derived_from`` keys (of their groups, when expected groups are known)."""
    from torchao.quantization.pt2e import DerivedObserverOrFakeQuantize
    from torchao.quantization.pt2e.quantizer import DerivedQuantizationSpec

    om = ctx.observers()
    keys = om.keys
    index = ctx.group_index()
    groups = ctx.expected_groups
    v = []
    done: set[int] = set()
    for o in om.observer_nodes:
        mod = om.module(o)
        if not isinstance(mod, DerivedObserverOrFakeQuantize) or id(mod) in done:
            continue
        done.add(id(mod))
        observed = [k for k in keys if om.key_module(k) is mod]
        spec = None
        for k in observed:
            cand = groups[index[k]].spec if groups is not None and k in index else _resolve_spec(k, keys)
            if isinstance(cand, DerivedQuantizationSpec):
                spec = cand
                break
        if spec is None:
            v.append(
                Violation(
                    "derived_sources",
                    f"{o.target} is a DerivedObserverOrFakeQuantize but observes no key with a "
                    f"DerivedQuantizationSpec ({_keys_text(observed) or 'no annotated key'})",
                    {"observer": str(o.target)},
                )
            )
            continue
        sources = [key_of(s) for s in spec.derived_from]
        actual = list(mod.obs_or_fqs)
        if len(actual) != len(sources):
            v.append(
                Violation(
                    "derived_sources",
                    f"{o.target} derives from {len(actual)} observers but its spec names {len(sources)} "
                    f"sources ({_keys_text(sources)})",
                    {"observer": str(o.target)},
                )
            )
            continue
        for i, (src, got) in enumerate(zip(sources, actual)):
            want = om.key_module(src)
            if want is None and groups is not None and src in index:
                want = next(
                    (m for k in sorted(groups[index[src]].keys) if (m := om.key_module(k)) is not None), None
                )
            if want is None:
                continue  # the source is not observed in the graph: nothing to compare with
            if got is not want:
                v.append(
                    Violation(
                        "derived_sources",
                        f"{o.target}: source {i + 1} should be {_obs_name(om, want)} (observing the "
                        f"{_key_text(src)}), found {_obs_name(om, got)}",
                        {"observer": str(o.target), "index": i, "source": src},
                    )
                )
    return v


# ---- 6. graph well formed ----------------------------------------------------------------------


def _strip(gm: GraphModule, value: Any) -> Any:
    """An argument with Nodes replaced by the names of the nodes behind any observer chain."""
    if isinstance(value, Node):
        seen = set()
        while (
            value.op == "call_module"
            and value not in seen
            and value.args
            and isinstance(value.args[0], Node)
            and _is_observer_target(gm, value.target)
        ):
            seen.add(value)
            value = value.args[0]
        return ("node", value.name)
    if isinstance(value, (list, tuple)):
        return tuple(_strip(gm, x) for x in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _strip(gm, x)) for k, x in value.items()))
    return ("const", repr(value))


def _is_observer_target(gm: GraphModule, target: Any) -> bool:
    try:
        return is_observer_module(gm.get_submodule(str(target)))
    except AttributeError:
        return False


def check_graph_well_formed(ctx: CheckContext) -> list[Violation]:
    """The prepared graph lints, is topologically sorted, every call_module target exists, and it is the
    original graph plus observer nodes only (same nodes, ops, targets and arguments up to observers)."""
    prepared = ctx.prepared
    v: list[Violation] = []

    def add(msg: str, **details: Any) -> None:
        v.append(Violation("graph_well_formed", msg, details or None))

    seen: set[Node] = set()
    for n in prepared.graph.nodes:
        for a in _iter_nodes((n.args, n.kwargs)):
            if a not in seen:
                add(f"{n.name} uses {a.name} before it is defined (graph not topologically sorted)", node=n.name)
        seen.add(n)
        if n.op == "call_module":
            try:
                prepared.get_submodule(str(n.target))
            except AttributeError:
                add(f"call_module node {n.name} targets {n.target}, which does not exist", node=n.name)
    if not v:
        try:
            prepared.graph.lint()
        except Exception as e:  # lint raises RuntimeError/ValueError with its own message
            add(f"graph lint failed: {type(e).__name__}: {e}")

    orig_nodes = _nodes_by_name(ctx.original)
    prep_nodes = _nodes_by_name(prepared)
    for name, on in orig_nodes.items():
        if on.op == "call_module" and _is_observer_target(ctx.original, on.target):
            continue
        pn = prep_nodes.get(name)
        if pn is None:
            add(f"node {name} of the original graph is missing from the prepared graph", node=name)
            continue
        if pn.op != on.op or str(pn.target) != str(on.target):
            add(f"node {name} changed from {on.op} {on.target} to {pn.op} {pn.target}", node=name)
            continue
        if _strip(ctx.original, (on.args, on.kwargs)) != _strip(prepared, (pn.args, pn.kwargs)):
            add(f"the arguments of {name} differ from the original beyond inserted observers", node=name)
    for name, pn in prep_nodes.items():
        if name in orig_nodes:
            continue
        if pn.op == "call_module" and _is_observer_target(prepared, pn.target):
            continue
        what = pn.op if pn.op != "call_module" else f"call_module of {type(_safe_mod(prepared, pn.target)).__name__}"
        add(f"node {name} ({what}) is new and not an observer: prepare may only insert observers", node=name)
    return v


def _safe_mod(gm: GraphModule, target: Any) -> Any:
    try:
        return gm.get_submodule(str(target))
    except AttributeError:
        return None


def _iter_nodes(value: Any):
    if isinstance(value, Node):
        yield value
    elif isinstance(value, (list, tuple)):
        for x in value:
            yield from _iter_nodes(x)
    elif isinstance(value, dict):
        for x in value.values():
            yield from _iter_nodes(x)


# ---- 7. float semantics ------------------------------------------------------------------------


def _flat_outputs(out: Any) -> list[Any]:
    return list(torch.utils._pytree.tree_leaves(out))


def float_outputs_match(original: GraphModule, prepared: GraphModule, example_inputs: tuple) -> list[str]:
    """Problems (plain words) found running both models in float on ``example_inputs``; [] if they agree.

    Runs deep copies; fake quants (and their observers) are disabled on the prepared copy.
    """
    from torchao.quantization.pt2e.fake_quantize import disable_fake_quant, disable_observer

    orig = copy.deepcopy(original)
    prep = copy.deepcopy(prepared)
    prep.apply(disable_fake_quant)
    prep.apply(disable_observer)
    with torch.no_grad():
        try:
            expected = _flat_outputs(orig(*copy.deepcopy(example_inputs)))
        except Exception as e:
            return [f"the original model could not run on the example inputs: {type(e).__name__}: {e}"]
        try:
            actual = _flat_outputs(prep(*copy.deepcopy(example_inputs)))
        except Exception as e:
            return [f"the prepared model raised on the example inputs: {type(e).__name__}: {e}"]
    if len(expected) != len(actual):
        return [f"the prepared model returns {len(actual)} values, the original {len(expected)}"]
    problems = []
    for i, (e, a) in enumerate(zip(expected, actual)):
        if isinstance(e, torch.Tensor) != isinstance(a, torch.Tensor):
            problems.append(f"output {i}: one model returns a tensor and the other does not")
        elif isinstance(e, torch.Tensor):
            if e.shape != a.shape or e.dtype != a.dtype:
                problems.append(f"output {i}: shape/dtype {tuple(a.shape)}/{a.dtype}, expected {tuple(e.shape)}/{e.dtype}")
            elif not torch.allclose(e, a, equal_nan=True):
                diff = (e.double() - a.double()).abs().max().item()
                problems.append(f"output {i} differs from the original in float (max abs diff {diff:.3g})")
        elif e != a:
            problems.append(f"output {i}: {a!r}, expected {e!r}")
    return problems


def check_float_semantics(ctx: CheckContext) -> list[Violation]:
    """With observers passive and fake quants disabled, the prepared model computes what the original does."""
    if ctx.example_inputs is None:
        return []
    return [Violation("float_semantics", p) for p in float_outputs_match(ctx.original, ctx.prepared, ctx.example_inputs)]


# ---- 8. convert state --------------------------------------------------------------------------


def check_convert_state(ctx: CheckContext) -> list[Violation]:
    """The prepared module carries ``meta["_observed_graph_module_attrs"]`` with the right ``is_qat``."""
    attrs = ctx.prepared.meta.get("_observed_graph_module_attrs")
    if attrs is None:
        return [
            Violation(
                "convert_state",
                "the prepared module has no meta['_observed_graph_module_attrs'] (convert needs it)",
            )
        ]
    is_qat = getattr(attrs, "is_qat", None)
    if is_qat != ctx.is_qat:
        return [
            Violation(
                "convert_state",
                f"meta['_observed_graph_module_attrs'].is_qat is {is_qat}, expected {ctx.is_qat}",
            )
        ]
    return []


# ---- all ---------------------------------------------------------------------------------------

CHECKS: dict[str, Callable[[CheckContext], list[Violation]]] = {
    "one_observer_per_group": check_one_observer_per_group,
    "no_cyclic_sharing": check_no_cyclic_sharing,
    "annotated_edges_observed": check_annotated_edges_observed,
    "observer_matches_spec": check_observer_matches_spec,
    "derived_sources": check_derived_sources,
    "graph_well_formed": check_graph_well_formed,
    "float_semantics": check_float_semantics,
    "convert_state": check_convert_state,
}


def check_all(ctx: CheckContext, only: Optional[Iterable[str]] = None) -> list[Violation]:
    """Run every checker (or those named in ``only``); a checker that crashes yields one violation."""
    names = list(CHECKS) if only is None else list(only)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise KeyError(f"unknown check(s) {unknown}; known: {sorted(CHECKS)}")
    out: list[Violation] = []
    for name in names:
        try:
            out.extend(CHECKS[name](ctx))
        except Exception as e:
            out.append(Violation(name, f"the checker itself failed: {type(e).__name__}: {e}", {"crashed": True}))
    return out
