"""Looking at a case: a terminal rendering (``show_text``) and an SVG picture (``show_svg``).

Both show the nodes of the case's graph, its annotations and the *sharing groups* the reference computes for
them (``prepare_impl.sharing_groups`` on the built case): every annotated key (an input edge ``a -> n`` or the
output of ``n``) is labelled with its group number ``G<i>``, and in the SVG every group has its own colour,
used for its edges, its output badges and its legend entry. When the reference rejects the annotations, the
error is shown instead of the groups.

The SVG is written by hand (no graphviz): boxes laid out in topological layers (a node sits one layer below
its deepest input), edges as curves from producer to consumer, a legend on the right.

``python -m harness show CASE [--svg OUT]`` prints the text and optionally writes the SVG.
"""

from __future__ import annotations

import argparse
import colorsys
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional
from xml.sax.saxutils import escape

from harness import case as C

__all__ = ["Grouping", "sharing", "show_text", "show_svg", "group_colours", "spec_text", "node_text",
           "unobserved_keys", "main_show"]


# ---- the sharing groups, by key name -------------------------------------------------------------------------


@dataclass(frozen=True)
class Grouping:
    """The reference's sharing groups of a case, by key string (``"edge:a->n"``, ``"out:n"``).

    ``groups[i]`` lists the keys of group ``i`` in annotation order; ``error`` is set (and ``groups`` empty)
    when the case cannot be built or the reference rejects its annotations.
    """

    groups: tuple[tuple[str, ...], ...] = ()
    group_of: Optional[dict] = None
    error: Optional[str] = None

    def of(self, key: str) -> Optional[int]:
        return (self.group_of or {}).get(key)


def sharing(case: C.Case) -> Grouping:
    """The reference's sharing groups of ``case`` (built with :func:`harness.fx.build.build`)."""
    import prepare_impl
    from harness.fx.build import BuildError, build
    from harness.check.keys import key_of

    try:
        model = build(case)
    except BuildError as e:
        return Grouping(error=f"cannot build the case: {e}")
    try:
        analysis = prepare_impl.sharing_groups(model)
    except prepare_impl.AnnotationError as e:
        return Grouping(error=f"the reference rejects the annotations: {type(e).__name__}: {e}")
    groups = tuple(tuple(key_of(m) for m in g.members) for g in analysis.groups)
    return Grouping(groups, {k: i for i, keys in enumerate(groups) for k in keys})


# ---- words -----------------------------------------------------------------------------------------------------


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
    return f"{node.name} = {target}({', '.join(args)})"


def _group_label(grouping: Grouping, key: str) -> str:
    g = grouping.of(key)
    return f"G{g}" if g is not None else ("?" if grouping.error else "-")


def _key_text(key: str) -> str:
    if key.startswith("edge:"):
        a, _, n = key[5:].partition("->")
        return f"edge {a} -> {n}"
    return f"output of {key[4:]}"


def _case_specs(case: C.Case) -> dict[str, C.Spec]:
    specs: dict[str, C.Spec] = {}
    for a in case.annotations:
        for arg, spec in a.inputs:
            if spec is not None:
                specs[f"edge:{arg}->{a.node}"] = spec
        if a.output is not None:
            specs[f"out:{a.node}"] = a.output
    return specs


def _group_spec(keys: tuple[str, ...], specs: dict[str, C.Spec]) -> str:
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
        specs = _case_specs(case)
        lines.append(f"sharing groups (reference): {len(grouping.groups)}")
        for i, keys in enumerate(grouping.groups):
            shown = ", ".join(_key_text(k) for k in keys[:max_members])
            more = f", ... ({len(keys) - max_members} more)" if len(keys) > max_members else ""
            lines.append(f"  G{i}  {_group_spec(keys, specs)}")
            lines.append(f"       {shown}{more}")
    return "\n".join(lines) + "\n"


# ---- SVG -------------------------------------------------------------------------------------------------------

_BOX_H = 42
_LAYER_GAP = 64
_COL_GAP = 28
_MARGIN = 24
_CHAR_W = 7.0
_LEGEND_W = 460
_GREY = "#9aa0a6"


def group_colours(n: int) -> list[str]:
    """``n`` distinct, well-separated colours (hex), one per group."""
    colours: list[str] = []
    seen: set[str] = set()
    for i in range(n):
        hue = (i * 0.381966) % 1.0  # golden-angle steps
        light = (0.42, 0.32, 0.52)[(i // 7) % 3]
        step = 0
        while True:
            r, g, b = colorsys.hls_to_rgb((hue + step * 0.0013) % 1.0, light, 0.72)
            colour = f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
            if colour not in seen:
                break
            step += 1
        seen.add(colour)
        colours.append(colour)
    return colours


def _inputs_of(node: C.Node) -> list[str]:
    """Names of the nodes ``node`` reads, in argument order (positional, then kwargs), with repeats."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, C.Ref):
            out.append(value.name)
        elif isinstance(value, tuple):
            for v in value:
                walk(v)

    for a in node.args:
        walk(a)
    for _, v in node.kwargs:
        walk(v)
    return out


@dataclass
class _Box:
    node: C.Node
    layer: int
    label: str
    sub: str
    width: float
    x: float = 0.0
    y: float = 0.0

    @property
    def cx(self) -> float:
        return self.x + self.width / 2


def _place_row(row: list[_Box], desired: dict[str, float]) -> None:
    """Put the boxes of one layer left to right, each as near its desired centre as overlaps allow."""
    row.sort(key=lambda b: desired[b.node.name])
    right = -1e18
    for b in row:
        b.x = max(desired[b.node.name] - b.width / 2, right + _COL_GAP)
        right = b.x + b.width


def _layout(case: C.Case) -> tuple[dict[str, _Box], float, float]:
    """Boxes in layers: an op one layer below its deepest input; inputs and parameters just above their first
    consumer. Within a layer, boxes sit near the mean position of their neighbours (down, up, down sweeps)."""
    boxes: dict[str, _Box] = {}
    users: dict[str, list[str]] = {}
    for node in case.graph.nodes:
        inputs = [boxes[n] for n in _inputs_of(node) if n in boxes]
        for b in inputs:
            users.setdefault(b.node.name, []).append(node.name)
        layer = 0 if not inputs else 1 + max(b.layer for b in inputs)
        if node.op == "output":
            label, sub = "output", ""
        elif node.op == "call_function":
            label = node.name
            sub = node.target[len("aten."):] if node.target.startswith("aten.") else node.target
        else:
            label = node.name
            meta = node.tensor
            shape = "x".join(str(d) for d in meta.shape) if meta is not None else "?"
            sub = ("input " if node.op == "placeholder" else f"{node.attr_kind} ") + shape
        width = max(len(label), len(sub)) * _CHAR_W + 20
        boxes[node.name] = _Box(node, layer, label, sub, width)
    for name, box in boxes.items():  # sources sink to just above their first consumer
        if box.node.op in ("placeholder", "get_attr") and users.get(name):
            box.layer = max(0, min(boxes[u].layer for u in users[name]) - 1)
    layers: dict[int, list[_Box]] = {}
    for box in boxes.values():
        layers.setdefault(box.layer, []).append(box)
    order = {name: i for i, name in enumerate(boxes)}
    desired: dict[str, float] = {}
    x = 0.0
    for b in sorted(boxes.values(), key=lambda b: order[b.node.name]):  # start: graph order, packed
        desired[b.node.name] = x
        x += 10.0

    def mean(names: list[str], fallback: float) -> float:
        xs = [boxes[n].cx for n in names if n in boxes]
        return sum(xs) / len(xs) if xs else fallback

    for sweep in ("down", "up", "down"):
        for layer in (sorted(layers) if sweep == "down" else sorted(layers, reverse=True)):
            row = layers[layer]
            for b in row:
                neighbours = _inputs_of(b.node) if sweep == "down" else users.get(b.node.name, [])
                desired[b.node.name] = mean(neighbours, b.cx if sweep != "down" or layer else desired[b.node.name])
            _place_row(row, desired)
    left = min(b.x for b in boxes.values()) if boxes else 0.0
    for b in boxes.values():
        b.x += _MARGIN - left
        b.y = _MARGIN + 40 + b.layer * (_BOX_H + _LAYER_GAP)
    width = max((b.x + b.width for b in boxes.values()), default=_MARGIN) + _MARGIN
    height = _MARGIN + 40 + max(layers) * (_BOX_H + _LAYER_GAP) + _BOX_H if layers else 100
    return boxes, width, height


def show_svg(case: C.Case, grouping: Optional[Grouping] = None, max_members: int = 8) -> str:
    """An SVG picture of the case: layered graph, annotated keys coloured by sharing group, and a legend."""
    grouping = sharing(case) if grouping is None else grouping
    boxes, graph_w, graph_h = _layout(case)
    colours = group_colours(len(grouping.groups))
    annotations = {a.node: a for a in case.annotations}
    keys = _case_specs(case)
    unobserved = unobserved_keys(case)

    def colour_of(key: str) -> Optional[str]:
        g = grouping.of(key)
        return colours[g] if g is not None else None

    title_w = max(len(case.info.title or "") * 9.0, (len(case.info.link) + 20) * 6.5) + 2 * _MARGIN
    legend_x = max(graph_w, title_w) + 10
    legend_rows = 2 + 4 * len(grouping.groups) + (7 if grouping.error else 0)
    width = legend_x + _LEGEND_W
    height = max(graph_h, _MARGIN + 60 + legend_rows * 16) + _MARGIN
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" '
        'markerWidth="9" markerHeight="9" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/>'
        "</marker></defs>",
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        f'<text x="{_MARGIN}" y="{_MARGIN + 4}" font-size="15" font-weight="bold">'
        f'{escape(case.info.title or "(untitled case)")}</text>',
        f'<text x="{_MARGIN}" y="{_MARGIN + 22}" fill="#555" font-size="11">{escape(case.info.kind)}, '
        f'{"QAT" if case.is_qat else "PTQ"}{escape(" — " + case.info.link) if case.info.link else ""}</text>',
    ]

    # edges (drawn first, under the boxes); one curve per (producer, consumer) pair
    consumers: dict[str, list[str]] = {}
    for node in case.graph.nodes:
        for a in dict.fromkeys(_inputs_of(node)):
            consumers.setdefault(a, []).append(node.name)
    edges_svg, labels_svg = [], []
    for node in case.graph.nodes:
        dst = boxes[node.name]
        seen: list[str] = []
        for a in _inputs_of(node):
            if a not in seen and a in boxes:
                seen.append(a)
        seen.sort(key=lambda name: boxes[name].cx)  # endpoints in the order of their sources: no crossing
        for i, a in enumerate(seen):
            src = boxes[a]
            users = sorted((n for n in consumers.get(a, ()) if n in boxes), key=lambda name: boxes[name].cx)
            j = users.index(node.name) if node.name in users else 0
            x1 = src.x + src.width * (j + 1) / (len(users) + 1)
            y1 = src.y + _BOX_H
            x2 = dst.x + dst.width * (i + 1) / (len(seen) + 1)
            y2 = dst.y
            mid = (y1 + y2) / 2
            path = f"M {x1:.1f} {y1:.1f} C {x1:.1f} {mid:.1f}, {x2:.1f} {mid:.1f}, {x2:.1f} {y2 - 1:.1f}"
            key = f"edge:{a}->{node.name}"
            colour = colour_of(key)
            if colour is not None:
                dash = ' stroke-dasharray="2 4"' if key in unobserved else ""
                note = " (not observed)" if key in unobserved else ""
                edges_svg.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="3"{dash} '
                                 f'marker-end="url(#arrow)" class="key-edge"><title>{escape(_key_text(key))}: '
                                 f'G{grouping.of(key)}{note}</title></path>')
                labels_svg.append(_badge(x2 - 4 - 3.5 * len(str(grouping.of(key))), y2 - 30,
                                         f"G{grouping.of(key)}", colour))
            elif key in keys:  # annotated, but no group (the reference rejected the annotations)
                edges_svg.append(f'<path d="{path}" fill="none" stroke="#333" stroke-width="2.5" '
                                 f'stroke-dasharray="6 3" marker-end="url(#arrow)"/>')
            else:
                edges_svg.append(f'<path d="{path}" fill="none" stroke="{_GREY}" stroke-width="1.2" '
                                 f'marker-end="url(#arrow)"/>')
    out += edges_svg

    for box in boxes.values():
        node = box.node
        annotated = node.name in annotations
        out_key = f"out:{node.name}"
        colour = colour_of(out_key)
        fill = {"placeholder": "#eef3fb", "get_attr": "#f4f4f4", "output": "#f7f7f7"}.get(node.op, "#fffbea"
                                                                                          if annotated else "white")
        stroke, sw = (colour, 3.0) if colour else ("#444", 1.6 if annotated else 1.0)
        out.append(f'<g class="node"><title>{escape(node_text(node))}</title>'
                   f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{_BOX_H}" rx="6" '
                   f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>'
                   f'<text x="{box.cx:.1f}" y="{box.y + 17:.1f}" text-anchor="middle" font-weight="bold">'
                   f'{escape(box.label)}</text>'
                   + (f'<text x="{box.cx:.1f}" y="{box.y + 33:.1f}" text-anchor="middle" fill="#555" '
                      f'font-size="11">{escape(box.sub)}</text>' if box.sub else "") + "</g>")
        if colour:
            labels_svg.append(_badge(box.x + box.width - 14, box.y + _BOX_H - 8, f"G{grouping.of(out_key)}", colour))
        elif out_key in keys:
            labels_svg.append(_badge(box.x + box.width - 14, box.y + _BOX_H - 8, "?", "#333"))
    out += labels_svg

    # legend
    y = _MARGIN + 4
    out.append(f'<g class="legend"><text x="{legend_x}" y="{y}" font-weight="bold">sharing groups '
               f'(reference)</text>')
    y += 20
    if grouping.error:
        for line in textwrap.wrap(grouping.error, 62)[:7]:
            out.append(f'<text x="{legend_x}" y="{y}" fill="#b00020">{escape(line)}</text>')
            y += 16
    specs = keys
    for i, members in enumerate(grouping.groups):
        out.append(f'<rect class="group-swatch" data-group="{i}" x="{legend_x}" y="{y - 11}" width="22" '
                   f'height="13" rx="3" fill="{colours[i]}"/>')
        out.append(f'<text x="{legend_x + 30}" y="{y}" font-weight="bold">G{i}</text>'
                   f'<text x="{legend_x + 62}" y="{y}" fill="#333">{escape(_clip(_group_spec(members, specs), 56))}'
                   f'</text>')
        y += 16
        shown = ", ".join(_key_text(k) + (" (not observed)" if k in unobserved else "")
                          for k in members[:max_members])
        more = f" ... and {len(members) - max_members} more" if len(members) > max_members else ""
        for line in textwrap.wrap(shown + more, 72)[:3]:
            out.append(f'<text x="{legend_x + 30}" y="{y}" fill="#555" font-size="11">{escape(line)}</text>')
            y += 14
        y += 4
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _badge(x: float, y: float, text: str, colour: str) -> str:
    w = 8 + 7 * len(text)
    return (f'<g class="badge"><rect x="{x:.1f}" y="{y:.1f}" width="{w}" height="15" rx="7" fill="{colour}"/>'
            f'<text x="{x + w / 2:.1f}" y="{y + 11.5:.1f}" text-anchor="middle" fill="white" font-size="10" '
            f'font-weight="bold">{escape(text)}</text></g>')


# ---- command line ----------------------------------------------------------------------------------------------


def main_show(argv: Optional[list[str]] = None) -> int:
    """``python -m harness show CASE [--svg OUT]``: print the case; write its SVG. Exit 0, or 2 on errors."""
    from harness.case.files import load_case
    from harness.case.jsonform import CaseFormatError

    parser = argparse.ArgumentParser(prog="python -m harness show",
                                     description="Show a case's graph, annotations and sharing groups.")
    parser.add_argument("case", help="a corpus case (JSON file)")
    parser.add_argument("--svg", metavar="OUT", help="also write an SVG picture of the case to OUT")
    args = parser.parse_args(argv)
    try:
        case = load_case(args.case)
    except CaseFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    grouping = sharing(case)
    sys.stdout.write(show_text(case, grouping))
    if args.svg:
        try:
            Path(args.svg).write_text(show_svg(case, grouping), encoding="utf-8")
        except OSError as e:
            print(f"error: cannot write {args.svg}: {e.strerror or e}", file=sys.stderr)
            return 2
        print(f"wrote {args.svg}", file=sys.stderr)
    return 0
