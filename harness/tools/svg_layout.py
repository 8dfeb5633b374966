"""Where the boxes of a case's graph go in the SVG picture: topological layers, then positions within a layer.

Rule: an operator sits one layer below its deepest input; graph inputs and parameters sit just above their
first consumer. Within a layer, boxes are placed left to right as near as overlaps allow to the mean position
of their neighbours, in three sweeps (down, up, down), which keeps edges short and mostly uncrossed.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness import case as C
from harness.case.walks import inputs_of

__all__ = ["BOX_H", "MARGIN", "Box", "layout"]

BOX_H = 42  # height of a node box
_LAYER_GAP = 64  # vertical space between layers (where the edges run)
_COL_GAP = 28  # least horizontal space between two boxes of a layer
MARGIN = 24
_CHAR_W = 7.0  # estimated width of a character of a label


@dataclass
class Box:
    """A node's box: its layer, bold label and grey sub-label, and its position once laid out."""

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


def _place_row(row: list[Box], desired: dict[str, float]) -> None:
    """Put the boxes of one layer left to right, each as near its desired centre as overlaps allow."""
    row.sort(key=lambda b: desired[b.node.name])
    right = -1e18
    for b in row:
        b.x = max(desired[b.node.name] - b.width / 2, right + _COL_GAP)
        right = b.x + b.width


def layout(case: C.Case) -> tuple[dict[str, Box], float, float]:
    """The box of each node (by name), and the width and height of the graph.

    Boxes in layers: an op one layer below its deepest input; inputs and parameters just above their first
    consumer. Within a layer, boxes sit near the mean position of their neighbours (down, up, down sweeps)."""
    boxes: dict[str, Box] = {}
    users: dict[str, list[str]] = {}
    for node in case.graph.nodes:
        inputs = [boxes[n] for n in inputs_of(node) if n in boxes]
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
        boxes[node.name] = Box(node, layer, label, sub, width)
    for name, box in boxes.items():  # sources sink to just above their first consumer
        if box.node.op in ("placeholder", "get_attr") and users.get(name):
            box.layer = max(0, min(boxes[u].layer for u in users[name]) - 1)
    layers: dict[int, list[Box]] = {}
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
                neighbours = inputs_of(b.node) if sweep == "down" else users.get(b.node.name, [])
                desired[b.node.name] = mean(neighbours, b.cx if sweep != "down" or layer else desired[b.node.name])
            _place_row(row, desired)
    left = min(b.x for b in boxes.values()) if boxes else 0.0
    for b in boxes.values():
        b.x += MARGIN - left
        b.y = MARGIN + 40 + b.layer * (BOX_H + _LAYER_GAP)
    width = max((b.x + b.width for b in boxes.values()), default=MARGIN) + MARGIN
    height = MARGIN + 40 + max(layers) * (BOX_H + _LAYER_GAP) + BOX_H if layers else 100
    return boxes, width, height
