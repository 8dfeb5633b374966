"""The terminal rendering of a case (``show_text``) and the words both renderings use for specs, nodes and keys.

Rule: the nodes are listed in graph order; under each annotated node, one line per input edge and one for the
output, each labelled with its sharing group ``G<i>`` (``-``: no spec, ``?``: the reference rejected the
annotations); then the groups, each with the concrete spec it is observed with and its members.
"""

from __future__ import annotations

import textwrap
from typing import Any, Optional

from harness import case as C
from harness.tools.grouping import Grouping, sharing

__all__ = ["case_specs", "group_spec", "key_text", "node_text", "show_text", "spec_text", "unobserved_keys"]


def _short_class(qualname: str) -> str:
    return qualname.rpartition(".")[2]


def _ctor_text(ctor: C.Ctor) -> str:
    if not ctor.kwargs:
        return _short_class(ctor.qualname)
    kwargs = ", ".join(f"{k}={_ctor_text(v) if isinstance(v, C.Ctor) else v!r}" for k, v in ctor.kwargs)
    return f"{_short_class(ctor.qualname)}({kwargs})"


def _target_text(target: C.Target) -> str:
    if isinstance(target, C.EdgeRef):
        return f"edge {target.arg} -> {target.node}"
    return f"output of {target.name}"


def _range(qmin: Optional[int], qmax: Optional[int]) -> str:
    return f" [{qmin}, {qmax}]" if qmin is not None or qmax is not None else ""


def spec_text(spec: Optional[C.Spec]) -> str:
    """A one-line description of a case spec."""
    if spec is None:
        return "no spec"
    if isinstance(spec, C.QSpec):
        extra = f" ch_axis={spec.ch_axis}" if spec.ch_axis is not None else ""
        dyn = " dynamic" if spec.is_dynamic else ""
        return f"{spec.dtype}{_range(spec.quant_min, spec.quant_max)} {spec.qscheme or ''}{extra}{dyn} " \
               f"{_ctor_text(spec.observer)}".replace("  ", " ")
    if isinstance(spec, C.SharedSpec):
        return f"shared with {_target_text(spec.target)}"
    if isinstance(spec, C.DerivedSpec):
        sources = ", ".join(_target_text(t) for t in spec.derived_from)
        return f"derived from [{sources}] by {spec.derive_fn.rpartition('.')[2]}: {spec.dtype}" \
               f"{_range(spec.quant_min, spec.quant_max)} {spec.qscheme or ''}"
    if isinstance(spec, C.FixedSpec):
        return f"fixed scale={spec.scale:g} zero_point={spec.zero_point} {spec.dtype}" \
               f"{_range(spec.quant_min, spec.quant_max)} {spec.qscheme or ''}".rstrip()
    return repr(spec)


def _arg_text(value: Any) -> str:
    if isinstance(value, C.Ref):
        return value.name
    if isinstance(value, C.Const):
        return f"{value.kind}.{value.value}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_arg_text(v) for v in value) + "]"
    return repr(value)


def node_text(node: C.Node) -> str:
    """``name = op(args)`` / ``name: placeholder f32[..]`` for one node."""
    if node.op in ("placeholder", "get_attr"):
        meta = node.tensor
        tensor = f"{meta.dtype}[{', '.join(str(d) for d in meta.shape)}]" if meta is not None else "?"
        what = "input" if node.op == "placeholder" else f"{node.attr_kind} {node.target}"
        return f"{node.name}: {what} {tensor}"
    args = [_arg_text(a) for a in node.args] + [f"{k}={_arg_text(v)}" for k, v in node.kwargs]
    if node.op == "output":
        return f"output({', '.join(args)})"
    target = node.target[len("aten."):] if node.target.startswith("aten.") else node.target
    via = f"  [nn.{node.module}]" if node.module else ""
    return f"{node.name} = {target}({', '.join(args)}){via}"


def _group_label(grouping: Grouping, key: str) -> str:
    g = grouping.of(key)
    return f"G{g}" if g is not None else ("?" if grouping.error else "-")


def key_text(key: str) -> str:
    """``edge a -> n`` / ``output of n`` for a key string."""
    if key.startswith("edge:"):
        a, _, n = key[5:].partition("->")
        return f"edge {a} -> {n}"
    return f"output of {key[4:]}"


def case_specs(case: C.Case) -> dict[str, C.Spec]:
    """The spec of every annotated key of ``case`` (keys with a ``None`` spec are not keys)."""
    specs: dict[str, C.Spec] = {}
    for a in case.annotations:
        for arg, spec in a.inputs:
            if spec is not None:
                specs[f"edge:{arg}->{a.node}"] = spec
        if a.output is not None:
            specs[f"out:{a.node}"] = a.output
    return specs


def group_spec(keys: tuple[str, ...], specs: dict[str, C.Spec]) -> str:
    """The first concrete (not shared) spec among a group's keys, as text."""
    for k in keys:
        spec = specs.get(k)
        if spec is not None and not isinstance(spec, C.SharedSpec):
            return spec_text(spec)
    return "no concrete spec"


def unobserved_keys(case: C.Case) -> frozenset[str]:
    """Annotated keys the case's expected result leaves unobserved (e.g. a buffer written in place)."""
    e = case.expected
    if e is None or not e.canonical:
        return frozenset()
    return frozenset(e.canonical.get("unobserved", []))


def _expected_text(case: C.Case) -> str:
    e = case.expected
    if e is None:
        return "none recorded"
    if e.error:
        return f"the reference raises {e.error}"
    canonical = e.canonical or {}
    groups = canonical.get("groups", [])
    unobserved = canonical.get("unobserved", [])
    text = f"{len(groups)} observer instance(s)"
    return text + (f", {len(unobserved)} annotated key(s) unobserved" if unobserved else "")


def show_text(case: C.Case, grouping: Optional[Grouping] = None, max_members: int = 12) -> str:
    """The case as text: header, nodes in graph order with their annotations and groups, then the groups."""
    grouping = sharing(case) if grouping is None else grouping
    info = case.info
    lines = [f"case: {info.title or '(untitled)'}   [{info.kind}, {'QAT' if case.is_qat else 'PTQ'}]"]
    if info.link:
        lines.append(f"report: {info.link}")
    status = [f"upstream: {info.upstream}"] if info.upstream else []
    if info.tags:
        status.append(f"tags: {', '.join(info.tags)}")
    if status:
        lines.append("   ".join(status))
    if info.notes:
        lines += textwrap.wrap(info.notes, 100, initial_indent="  ", subsequent_indent="  ")
    lines.append(f"expected: {_expected_text(case)}")
    lines.append("")
    lines.append("nodes (graph order):")
    annotations = {a.node: a for a in case.annotations}
    unobserved = unobserved_keys(case)
    for node in case.graph.nodes:
        lines.append(f"  {node_text(node)}")
        a = annotations.get(node.name)
        if a is None:
            continue
        width = max([len(arg) for arg, _ in a.inputs] + [6])
        for arg, spec in a.inputs:
            key = f"edge:{arg}->{node.name}"
            label = _group_label(grouping, key) if spec is not None else "-"
            note = "   (not observed)" if key in unobserved else ""
            lines.append(f"      {label:>5}  in  {arg:<{width}}  {spec_text(spec)}{note}")
        if a.output is not None:
            note = "   (not observed)" if f"out:{node.name}" in unobserved else ""
            lines.append(f"      {_group_label(grouping, f'out:{node.name}'):>5}  out {'':<{width}}  "
                         f"{spec_text(a.output)}{note}")
        if not a.allow_implicit_sharing:
            lines.append("             (allow_implicit_sharing=False)")
    lines.append("")
    if grouping.error:
        lines.append(f"sharing groups: none ({grouping.error})")
    else:
        specs = case_specs(case)
        lines.append(f"sharing groups (reference): {len(grouping.groups)}")
        for i, keys in enumerate(grouping.groups):
            shown = ", ".join(key_text(k) for k in keys[:max_members])
            more = f", ... ({len(keys) - max_members} more)" if len(keys) > max_members else ""
            lines.append(f"  G{i}  {group_spec(keys, specs)}")
            lines.append(f"       {shown}{more}")
    return "\n".join(lines) + "\n"
