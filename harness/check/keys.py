"""Key strings: the names of the things annotations attach specs to, as the canonical form spells them.

Rule: an annotated *key* is one of

* ``"edge:a->n"``: the input edge from node ``a`` into node ``n`` (an ``input_qspec_map`` entry of ``n``
  whose spec is not ``None``);
* ``"out:n"``: the output of node ``n`` (a non-``None`` ``output_qspec``).

Node names are FX identifiers, so the encoding is unambiguous. ``prepare`` keeps the names of the
original nodes, which is how keys of the annotated model are found again in the prepared one.
Nothing here mutates a graph.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from torch.fx import GraphModule, Node

from harness.fx.nodes import ANNOTATION_KEY

__all__ = [
    "CanonicalFormatError",
    "annotated_keys",
    "edge_key",
    "key_of",
    "output_key",
    "parse_key",
]

_EDGE_RE = re.compile(r"^edge:([^\s>]+)->([^\s>]+)$")
_OUT_RE = re.compile(r"^out:(\S+)$")


class CanonicalFormatError(ValueError):
    """Canonical-form JSON data (or a key string) that does not have the documented shape."""


def edge_key(arg: str, node: str) -> str:
    """The key string of the input edge ``arg -> node``."""
    return f"edge:{arg}->{node}"


def output_key(node: str) -> str:
    """The key string of the output of node ``node``."""
    return f"out:{node}"


def parse_key(key: str) -> tuple[str, str, Optional[str]]:
    """``"edge:a->n"`` -> ``("edge", "a", "n")``; ``"out:n"`` -> ``("out", "n", None)``."""
    m = _EDGE_RE.match(key)
    if m:
        return "edge", m.group(1), m.group(2)
    m = _OUT_RE.match(key)
    if m:
        return "out", m.group(1), None
    raise CanonicalFormatError(f"not a key string: {key!r} (expected 'edge:a->n' or 'out:n')")


def key_of(edge_or_node: Any) -> str:
    """The key string of a torchao ``EdgeOrNode``: an fx ``Node`` or a ``(arg_node, node)`` tuple."""
    if isinstance(edge_or_node, Node):
        return output_key(edge_or_node.name)
    if (
        isinstance(edge_or_node, tuple)
        and len(edge_or_node) == 2
        and all(isinstance(x, Node) for x in edge_or_node)
    ):
        return edge_key(edge_or_node[0].name, edge_or_node[1].name)
    raise TypeError(f"expected an fx Node or a (Node, Node) edge, got {edge_or_node!r}")


def annotated_keys(original: GraphModule) -> dict[str, Any]:
    """Every annotated key of ``original`` with its (non-``None``) spec, in annotation order.

    Keys are read from ``node.meta["quantization_annotation"]``; annotation entries refer to nodes by
    object, but only their names are used, so an annotation whose keys belong to a copy of the graph
    still reads correctly.
    """
    if not isinstance(original, GraphModule):
        raise TypeError(f"original must be a torch.fx.GraphModule, got {type(original).__name__}")
    keys: dict[str, Any] = {}
    for n in original.graph.nodes:
        qa = n.meta.get(ANNOTATION_KEY)
        if qa is None:
            continue
        input_map = getattr(qa, "input_qspec_map", None)
        if input_map is None:
            raise TypeError(
                f"node {n.name!r}: meta[{ANNOTATION_KEY!r}] is a {type(qa).__name__}, "
                "not a QuantizationAnnotation"
            )
        for arg, spec in input_map.items():
            if not isinstance(arg, Node):
                raise TypeError(
                    f"node {n.name!r}: input_qspec_map key {arg!r} is not an fx Node"
                )
            if spec is not None:
                keys[edge_key(arg.name, n.name)] = spec
        if getattr(qa, "output_qspec", None) is not None:
            keys[output_key(n.name)] = qa.output_qspec
    return keys

