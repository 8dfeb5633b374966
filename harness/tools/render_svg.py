"""The SVG picture of a case (``show_svg``), written by hand (no graphviz).

Rule: boxes laid out by :mod:`harness.tools.svg_layout`, edges as curves from producer to consumer, and every
sharing group in its own colour, used for its annotated edges, its output badges and its legend entry; an
annotated key the reference left without a group (it rejected the annotations) is drawn dashed black, and the
error is shown in the legend.
"""

from __future__ import annotations

import colorsys
import textwrap
from typing import Callable, Optional
from xml.sax.saxutils import escape

from harness import case as C
from harness.case.walks import inputs_of
from harness.tools.grouping import Grouping, sharing
from harness.tools.render_text import case_specs, group_spec, key_text, node_text, unobserved_keys
from harness.tools.svg_layout import BOX_H, MARGIN, Box, layout

__all__ = ["group_colours", "show_svg"]

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


def show_svg(case: C.Case, grouping: Optional[Grouping] = None, max_members: int = 8) -> str:
    """An SVG picture of the case: layered graph, annotated keys coloured by sharing group, and a legend."""
    grouping = sharing(case) if grouping is None else grouping
    boxes, graph_w, graph_h = layout(case)
    colours = group_colours(len(grouping.groups))
    specs = case_specs(case)
    unobserved = unobserved_keys(case)

    def colour_of(key: str) -> Optional[str]:
        g = grouping.of(key)
        return colours[g] if g is not None else None

    title_w = max(len(case.info.title or "") * 9.0, (len(case.info.link) + 20) * 6.5) + 2 * MARGIN
    legend_x = max(graph_w, title_w) + 10
    legend_rows = 2 + 4 * len(grouping.groups) + (7 if grouping.error else 0)
    width = legend_x + _LEGEND_W
    height = max(graph_h, MARGIN + 60 + legend_rows * 16) + MARGIN
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" '
        'markerWidth="9" markerHeight="9" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/>'
        "</marker></defs>",
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 4}" font-size="15" font-weight="bold">'
        f'{escape(case.info.title or "(untitled case)")}</text>',
        f'<text x="{MARGIN}" y="{MARGIN + 22}" fill="#555" font-size="11">{escape(case.info.kind)}, '
        f'{"QAT" if case.is_qat else "PTQ"}{escape(" — " + case.info.link) if case.info.link else ""}</text>',
    ]
    edges_svg, edge_badges = _edges(case, boxes, grouping, colour_of, specs, unobserved)
    boxes_svg, box_badges = _boxes(case, boxes, grouping, colour_of, specs)
    out += edges_svg + boxes_svg + edge_badges + box_badges  # edges under the boxes, badges on top
    out += _legend(grouping, colours, specs, unobserved, legend_x, max_members)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _edges(case: C.Case, boxes: dict[str, Box], grouping: Grouping, colour_of: Callable[[str], Optional[str]],
           specs: dict[str, C.Spec], unobserved: frozenset[str]) -> tuple[list[str], list[str]]:
    """One curve per (producer, consumer) pair, in the group's colour for an annotated edge; and its badges."""
    consumers: dict[str, list[str]] = {}
    for node in case.graph.nodes:
        for a in dict.fromkeys(inputs_of(node)):
            consumers.setdefault(a, []).append(node.name)
    edges_svg, labels_svg = [], []
    for node in case.graph.nodes:
        dst = boxes[node.name]
        seen: list[str] = []
        for a in inputs_of(node):
            if a not in seen and a in boxes:
                seen.append(a)
        seen.sort(key=lambda name: boxes[name].cx)  # endpoints in the order of their sources: no crossing
        for i, a in enumerate(seen):
            src = boxes[a]
            users = sorted((n for n in consumers.get(a, ()) if n in boxes), key=lambda name: boxes[name].cx)
            j = users.index(node.name) if node.name in users else 0
            x1 = src.x + src.width * (j + 1) / (len(users) + 1)
            y1 = src.y + BOX_H
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
                                 f'marker-end="url(#arrow)" class="key-edge"><title>{escape(key_text(key))}: '
                                 f'G{grouping.of(key)}{note}</title></path>')
                labels_svg.append(_badge(x2 - 4 - 3.5 * len(str(grouping.of(key))), y2 - 30,
                                         f"G{grouping.of(key)}", colour))
            elif key in specs:  # annotated, but no group (the reference rejected the annotations)
                edges_svg.append(f'<path d="{path}" fill="none" stroke="#333" stroke-width="2.5" '
                                 f'stroke-dasharray="6 3" marker-end="url(#arrow)"/>')
            else:
                edges_svg.append(f'<path d="{path}" fill="none" stroke="{_GREY}" stroke-width="1.2" '
                                 f'marker-end="url(#arrow)"/>')
    return edges_svg, labels_svg


def _boxes(case: C.Case, boxes: dict[str, Box], grouping: Grouping, colour_of: Callable[[str], Optional[str]],
           specs: dict[str, C.Spec]) -> tuple[list[str], list[str]]:
    """A box per node (framed in its output's group colour) and the badges of annotated outputs."""
    annotations = {a.node for a in case.annotations}
    out, labels_svg = [], []
    for box in boxes.values():
        node = box.node
        annotated = node.name in annotations
        out_key = f"out:{node.name}"
        colour = colour_of(out_key)
        fill = {"placeholder": "#eef3fb", "get_attr": "#f4f4f4", "output": "#f7f7f7"}.get(node.op, "#fffbea"
                                                                                          if annotated else "white")
        stroke, sw = (colour, 3.0) if colour else ("#444", 1.6 if annotated else 1.0)
        out.append(f'<g class="node"><title>{escape(node_text(node))}</title>'
                   f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{BOX_H}" rx="6" '
                   f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>'
                   f'<text x="{box.cx:.1f}" y="{box.y + 17:.1f}" text-anchor="middle" font-weight="bold">'
                   f'{escape(box.label)}</text>'
                   + (f'<text x="{box.cx:.1f}" y="{box.y + 33:.1f}" text-anchor="middle" fill="#555" '
                      f'font-size="11">{escape(box.sub)}</text>' if box.sub else "") + "</g>")
        if colour:
            labels_svg.append(_badge(box.x + box.width - 14, box.y + BOX_H - 8, f"G{grouping.of(out_key)}", colour))
        elif out_key in specs:
            labels_svg.append(_badge(box.x + box.width - 14, box.y + BOX_H - 8, "?", "#333"))
    return out, labels_svg


def _legend(grouping: Grouping, colours: list[str], specs: dict[str, C.Spec], unobserved: frozenset[str],
            legend_x: float, max_members: int) -> list[str]:
    """The legend: the reference's error, or each group's colour, concrete spec and (first) members."""
    y = MARGIN + 4
    out = [f'<g class="legend"><text x="{legend_x}" y="{y}" font-weight="bold">sharing groups (reference)</text>']
    y += 20
    if grouping.error:
        for line in textwrap.wrap(grouping.error, 62)[:7]:
            out.append(f'<text x="{legend_x}" y="{y}" fill="#b00020">{escape(line)}</text>')
            y += 16
    for i, members in enumerate(grouping.groups):
        out.append(f'<rect class="group-swatch" data-group="{i}" x="{legend_x}" y="{y - 11}" width="22" '
                   f'height="13" rx="3" fill="{colours[i]}"/>')
        out.append(f'<text x="{legend_x + 30}" y="{y}" font-weight="bold">G{i}</text>'
                   f'<text x="{legend_x + 62}" y="{y}" fill="#333">{escape(_clip(group_spec(members, specs), 56))}'
                   f'</text>')
        y += 16
        shown = ", ".join(key_text(k) + (" (not observed)" if k in unobserved else "")
                          for k in members[:max_members])
        more = f" ... and {len(members) - max_members} more" if len(members) > max_members else ""
        for line in textwrap.wrap(shown + more, 72)[:3]:
            out.append(f'<text x="{legend_x + 30}" y="{y}" fill="#555" font-size="11">{escape(line)}</text>')
            y += 14
        y += 4
    out.append("</g>")
    return out


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _badge(x: float, y: float, text: str, colour: str) -> str:
    w = 8 + 7 * len(text)
    return (f'<g class="badge"><rect x="{x:.1f}" y="{y:.1f}" width="{w}" height="15" rx="7" fill="{colour}"/>'
            f'<text x="{x + w / 2:.1f}" y="{y + 11.5:.1f}" text-anchor="middle" fill="white" font-size="10" '
            f'font-weight="bold">{escape(text)}</text></g>')
