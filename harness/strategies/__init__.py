"""Hypothesis strategies that generate cases (``harness.case`` data) for fuzzing ``prepare``.

Everything generated is plain ``harness.case`` data, so hypothesis shrinks the data, never a torch object;
``harness.fx.build`` turns it into a ``GraphModule``. The strategies compose:

* :func:`graphs` (``graphs.py``, ops from the op table ``op_table.py``: one entry per op with its shape rule,
  generator and module-program spelling): random DAGs in the ATen IR ``torch.export`` produces. Every node's shape
  is tracked with :data:`SHAPE_RULES` while drawing, so every graph builds; :func:`infer_meta` replays the rules on
  a graph. By default they draw the table's first ops (:data:`IR_OPS`); the quantizer campaign passes the whole table
  (:data:`GENERATED_OPS`, the vocabulary of real quantizers surveyed in ``op_survey.json``).
* :func:`annotations` (``annotations.py``): the quantization annotations of a given graph, ``"valid"`` (what a
  correct quantizer could emit, ``valid.py`` with the specs of ``qspecs.py``) or ``"adversarial"`` (exactly one
  injected defect, ``adversarial.py``; :func:`adversarial_annotations` also says which, see
  :data:`ADVERSARIAL_KINDS` and :data:`ERROR_FOR_KIND`).
* :func:`cases` and :func:`adversarial_cases` (``cases.py``) combine the two.
* :func:`exported_cases` (``exported.py``): a drawn graph written as an ordinary ``nn.Module`` program, exported
  with ``torch.export`` and extracted back: exactly the IR a quantizer sees (slower; exports are cached).

Sizes: ``min_nodes``/``max_nodes`` count operator nodes (``call_function`` nodes other than ``getitem``);
placeholders, ``get_attr`` nodes, ``getitem`` nodes and the output come on top.

Shrinking goes towards small graphs: few op nodes, the simplest ops (``relu`` first), each op consuming the most
recent value, distinct operands, one ``getitem``, no annotations.
"""

from harness.strategies.adversarial import ADVERSARIAL_KINDS, ERROR_FOR_KIND, adversarial_annotations, applicable_kinds
from harness.strategies.annotation_set import annotation_items
from harness.strategies.annotations import annotations, later_anchored_shares
from harness.strategies.cases import adversarial_cases, cases
from harness.strategies.graph_state import PLACEHOLDER_SHAPES
from harness.strategies.graphs import graphs
from harness.strategies.op_table import GENERATED_OPS, IR_OPS, PROGRAM_OPS, SHAPE_RULES, infer_meta
from harness.strategies.qspecs import DERIVE_PER_CHANNEL, DERIVE_PER_TENSOR, FQ, OBS
from harness.strategies.shapes import MAX_NUMEL, Meta, ShapeRuleError, is_float

__all__ = [
    "ADVERSARIAL_KINDS",
    "DERIVE_PER_CHANNEL",
    "DERIVE_PER_TENSOR",
    "ERROR_FOR_KIND",
    "EXPORTABLE_OPS",
    "FQ",
    "GENERATED_OPS",
    "IR_OPS",
    "MAX_NUMEL",
    "Meta",
    "OBS",
    "PLACEHOLDER_SHAPES",
    "PROGRAM_OPS",
    "SHAPE_RULES",
    "ShapeRuleError",
    "adversarial_annotations",
    "adversarial_cases",
    "annotation_items",
    "annotations",
    "applicable_kinds",
    "cases",
    "export_graph",
    "exported_cases",
    "graph_to_module",
    "graphs",
    "infer_meta",
    "is_float",
    "later_anchored_shares",
]


def __getattr__(name: str):
    """The exported-program helpers import torch: load them on first use, so importing the strategies stays cheap."""
    if name in ("EXPORTABLE_OPS", "export_graph", "exported_cases", "graph_to_module"):
        from harness.strategies import exported

        return getattr(exported, name)
    raise AttributeError(f"module 'harness.strategies' has no attribute {name!r}")
