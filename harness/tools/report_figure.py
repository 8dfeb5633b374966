"""The picture and the text of one case for the HTML report, made safe to paste into a page.

Rule: the SVG of ``harness.tools.show`` is inlined only if it is plain, well-formed SVG made of the elements and
attributes the renderer writes (an allow-list): no scripts, no event handlers, no external references, no
markup declarations. Case files are untrusted data, so a picture that fails this check is left out with the
reason, never inlined. Graphs over ``max_nodes`` nodes are not drawn (the reference's grouping of a
2000-node chain takes seconds and its picture is metres tall); the page then points to the show command.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from harness import case as C
from harness.tools.grouping import sharing
from harness.tools.render_svg import show_svg
from harness.tools.render_text import show_text

__all__ = ["Figure", "figure", "safe_inline_svg", "UnsafeSvg", "MAX_NODES"]

MAX_NODES = 150

_SVG_NS = "http://www.w3.org/2000/svg"
_ELEMENTS = frozenset({"svg", "defs", "marker", "path", "rect", "text", "tspan", "g", "title", "line", "circle",
                       "ellipse", "polyline", "polygon"})
_ATTRIBUTES = frozenset({
    "width", "height", "viewBox", "font-family", "font-size", "font-weight", "font-style", "id", "class", "x", "y",
    "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "d", "points", "fill", "fill-opacity", "stroke",
    "stroke-width", "stroke-dasharray", "stroke-opacity", "opacity", "marker-end", "marker-start", "markerUnits",
    "markerWidth", "markerHeight", "refX", "refY", "orient", "text-anchor", "dominant-baseline", "transform",
    "data-group",
})
_LOCAL_URL = re.compile(r"url\(#[A-Za-z0-9_-]+\)")
_LOCAL_URL_ID = re.compile(r"url\(#([A-Za-z0-9_-]+)\)")
_ID = re.compile(r'(<[A-Za-z]+\s[^<>]*?)\bid="([^"]*)"')  # an id attribute: inside a tag (text has no "<")
_ID_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_ROOT_XMLNS = re.compile(r'^(<svg)\s+xmlns="http://www\.w3\.org/2000/svg"')


class UnsafeSvg(ValueError):
    """The SVG is not the plain SVG the renderer writes."""


@dataclass(frozen=True)
class Figure:
    """``svg``: markup safe to inline (``""`` when left out, ``note`` says why); ``text``: the ``show`` text."""

    svg: str = ""
    text: str = ""
    note: str = ""


def _check_element(element: ET.Element) -> None:
    tag = element.tag
    if not tag.startswith("{" + _SVG_NS + "}") or tag[len(_SVG_NS) + 2:] not in _ELEMENTS:
        raise UnsafeSvg(f"unexpected element {tag[:80]!r}")
    for name, value in element.attrib.items():
        if name not in _ATTRIBUTES:
            raise UnsafeSvg(f"unexpected attribute {name[:80]!r}")
        if "url(" in value and not _LOCAL_URL.fullmatch(value):
            raise UnsafeSvg(f"attribute {name} refers outside the picture")


def safe_inline_svg(svg: str, id_prefix: str = "") -> str:
    """``svg`` checked against the allow-list and ready to inline in HTML (the root's ``xmlns``, which HTML does
    not need, removed: the page then holds no URL but its links), its ids and ``url(#id)`` references prefixed
    with ``id_prefix`` (ids are unique across the pictures of a page). Raises :class:`UnsafeSvg`."""
    if "<!" in svg or "<?" in svg:
        raise UnsafeSvg("markup declarations, comments or processing instructions")
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as e:
        raise UnsafeSvg(f"not well-formed: {e}") from None
    if root.tag != "{" + _SVG_NS + "}svg":
        raise UnsafeSvg("the root is not an svg element")
    for element in root.iter():
        _check_element(element)
    stripped, n = _ROOT_XMLNS.subn(r"\1", svg.strip(), count=1)
    if not n or "xmlns" in stripped:
        raise UnsafeSvg("unexpected namespace declarations")
    if id_prefix:
        if not _ID_PREFIX.fullmatch(id_prefix):
            raise ValueError(f"id_prefix {id_prefix!r}: letters, digits, - and _ only")
        stripped = _ID.sub(lambda m: f'{m.group(1)}id="{id_prefix}{m.group(2)}"', stripped)
        stripped = _LOCAL_URL_ID.sub(lambda m: f"url(#{id_prefix}{m.group(1)})", stripped)
    return stripped


def figure(case: C.Case, max_nodes: int = MAX_NODES, id_prefix: str = "") -> Figure:
    """The inline picture (ids prefixed with ``id_prefix``) and the ``show`` text of ``case``, or a note saying
    why they are left out."""
    n = len(case.graph.nodes)
    if n > max_nodes:
        return Figure(note=f"a graph of {n} nodes is not drawn here (more than {max_nodes}): use the show command")
    try:
        grouping = sharing(case)
        text = show_text(case, grouping)
        svg = show_svg(case, grouping)
    except Exception as e:  # noqa: BLE001 - one case the renderers cannot draw must not end the report
        return Figure(note=f"the case cannot be drawn: {type(e).__name__}: {e}")
    try:
        return Figure(svg=safe_inline_svg(svg, id_prefix), text=text)
    except UnsafeSvg as e:
        return Figure(text=text, note=f"the picture is left out: {e}")
