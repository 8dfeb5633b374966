"""The op table: one entry (:class:`harness.strategies.gen_base.Op`) per generated op, holding its name, its shape
rule, how it is drawn and its module-program spelling. Everything else about ops is read from it:

* the graph strategy's generators (:data:`OP_GENS`, in table order; an entry's further generators after all the
  first ones) and the ops it draws (:data:`GENERATED_OPS`), the favoured ones (:data:`FAVOURED`);
* the shape rules (:data:`SHAPE_RULES`) the generator tracks values with, and :func:`infer_meta`, their replay;
* which values are views (:data:`VIEW_OPS`, :data:`MULTI_VIEW_OPS`, :data:`OVERLAP_VIEW_OPS`), for the in-place
  rules of the graph state;
* the module programs of :mod:`harness.strategies.exported` (:data:`PROGRAM_OPS`: the ops with a spelling);
* the ops of the prepare campaign's cases (:data:`IR_OPS`: the first entries, :mod:`harness.strategies.op_entries`)
  and the vocabulary of real quantizers beyond them (:mod:`harness.strategies.op_entries_more`, then
  :mod:`harness.strategies.op_entries_extra`).

The codec's allow-list (:data:`harness.case.names.OP_NAMES`, torch-free and below this layer) holds every name of
the table; ``tests/strategies/test_op_table.py`` keeps that true. Adding an op: one entry here (a rule kind, a
generator, a spelling that ``torch.export`` writes back as the op) and its name in the allow-list if the codec
does not know it yet.
"""

from __future__ import annotations

from typing import Mapping

from harness.case import Graph, Ref
from harness.strategies.gen_base import Op, OpGen
from harness.strategies.op_entries import BASIC, GETITEM_ENTRY, IR
from harness.strategies.op_entries_extra import EXTRA
from harness.strategies.op_entries_more import MORE
from harness.strategies.op_recurrent import RECURRENT
from harness.strategies.op_recurrent import RULES as _RECURRENT_RULES
from harness.strategies.shapes import RULES as _BASE_RULES
from harness.strategies.shapes import Meta, Rule, ShapeRuleError
from harness.strategies.shapes_more import RULES as _MORE_RULES

__all__ = [
    "TABLE",
    "ENTRIES",
    "OP_GENS",
    "GENERATED_OPS",
    "BASIC_OPS",
    "IR_OPS",
    "PROGRAM_OPS",
    "FAVOURED",
    "SHAPE_RULES",
    "VIEW_OPS",
    "MULTI_VIEW_OPS",
    "OVERLAP_VIEW_OPS",
    "infer_meta",
]

TABLE: tuple[Op, ...] = BASIC + IR + MORE + EXTRA + RECURRENT
ENTRIES: Mapping[str, Op] = {op.name: op for op in TABLE + (GETITEM_ENTRY,)}
if len(ENTRIES) != len(TABLE) + 1:
    raise ImportError("the op table names an op twice")

_KINDS: Mapping[str, Rule] = {**_BASE_RULES, **_MORE_RULES, **_RECURRENT_RULES}
SHAPE_RULES: Mapping[str, Rule] = {name: _KINDS[op.rule] for name, op in ENTRIES.items()}

OP_GENS: tuple[OpGen, ...] = tuple(op.gen(op.name) for op in TABLE) + tuple(
    g(op.name) for op in TABLE for g in op.more)
GENERATED_OPS: tuple[str, ...] = tuple(op.name for op in TABLE)
# The ops the harness drew first (an ordinary module program writes the basic ones): the prepare campaign's cases
# keep to IR_OPS, the quantizer campaign and the plugin's random graphs draw the whole table.
BASIC_OPS: tuple[str, ...] = tuple(op.name for op in BASIC)
IR_OPS: tuple[str, ...] = tuple(op.name for op in BASIC + IR)
PROGRAM_OPS: tuple[str, ...] = tuple(op.name for op in TABLE if op.program is not None)
FAVOURED: tuple[str, ...] = tuple(op.name for op in TABLE if op.favoured)
VIEW_OPS = frozenset(op.name for op in TABLE if op.view in ("view", "overlap"))
MULTI_VIEW_OPS = frozenset(op.name for op in TABLE if op.view == "multi")
OVERLAP_VIEW_OPS = frozenset(op.name for op in TABLE if op.view == "overlap")


def infer_meta(graph: Graph) -> Meta:
    """The value of every node of ``graph`` by the rules of :data:`SHAPE_RULES` (a pure replay, no torch).

    Raises :class:`ShapeRuleError` naming the node for an op without a rule or arguments that do not fit.
    """
    meta: Meta = {}

    def lookup(v):
        if not isinstance(v, Ref):
            raise ShapeRuleError(current, f"expected a node reference, got {v!r}")
        if v.name not in meta:
            raise ShapeRuleError(current, f"refers to {v.name!r}, which is not defined before it")
        return meta[v.name]

    for node in graph.nodes:
        current = node.name
        if node.op in ("placeholder", "get_attr"):
            if node.tensor is None:
                raise ShapeRuleError(node.name, f"{node.op} without a tensor")
            meta[node.name] = node.tensor
        elif node.op == "output":
            meta[node.name] = None
        else:
            rule = SHAPE_RULES.get(node.target)
            if rule is None:
                raise ShapeRuleError(node.name, f"no shape rule for {node.target!r}")
            meta[node.name] = rule(node.name, node.args, dict(node.kwargs), lookup)
    return meta
