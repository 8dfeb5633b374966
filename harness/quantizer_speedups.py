"""Making the XNNPACK quantizers of :mod:`harness.quantizers` fast without changing what they do (a sibling of
:mod:`harness.quantizer_variants`: it depends only on the quantizers, and the harness names it only through them).

The rule: torchao's test XNNPACKQuantizer (in QAT) and ExecuTorch's (with every static config) run their conv-bn
annotators on every ``annotate()``, and each exports its patterns anew (3 to 8 s of CPU). On a graph without a
batch norm they match nothing (``prepare_pt2e`` fuses conv-bn before annotating); what they do to such a graph is
the dead-code elimination each begins with. :func:`conv_bn_annotators_without_exports` has them do that alone,
dispatched as upstream dispatches them, so the graph and the annotations stay upstream's (tests/suite/
test_xnnpack_qat_factory.py and tests/suite/test_executorch_quantizers.py compare with the plain quantizers).
On a graph with a batch norm they run in full, each pattern exported once per process
(:func:`harness.pattern_exports.exported_once`). :func:`annotate_fast` is both: the factories' ``annotate()``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from harness.pattern_exports import exported_once

__all__ = ["annotate_fast", "conv_bn_annotators_without_exports", "has_batch_norm"]


def annotate_fast(annotate: Callable[[Any], Any], model: Any, utils: Any) -> Any:
    """``annotate(model)`` (an XNNPACK quantizer's own, its utilities module ``utils`` holding ``OP_TO_ANNOTATOR``
    and the pattern export): on a graph with a batch norm with each pattern exported once per process, else with
    the conv-bn annotators doing only their dead-code elimination."""
    if has_batch_norm(model):
        with exported_once(utils):
            return annotate(model)
    with conv_bn_annotators_without_exports(utils.OP_TO_ANNOTATOR):
        return annotate(model)


@contextmanager
def conv_bn_annotators_without_exports(annotators: dict) -> Iterator[None]:
    """Within the block, the conv-bn entries of ``annotators`` (an XNNPACK quantizer's ``OP_TO_ANNOTATOR``: ``conv_bn``,
    ``conv_bn_relu``, ``conv_transpose_bn``, ``conv_transpose_bn_relu``) do only what they do to a graph without a
    batch norm, where they match nothing: the dead-code elimination each begins with (``gm.graph.
    eliminate_dead_code()``, then ``recompile()``), not the 3 to 8 s of pattern exports after it. Dispatched as
    upstream dispatches them (when upstream would run them, and only then), so the graph and the annotations are
    upstream's: a dead node is gone before the later annotators run, as upstream has it (tests/suite/
    test_xnnpack_qat_factory.py and tests/suite/test_executorch_quantizers.py compare with the plain quantizers)."""
    saved = {name: fn for name, fn in annotators.items() if "_bn" in name}

    def dead_code_eliminated(gm: Any, *args: Any, **kwargs: Any) -> list:
        gm.graph.eliminate_dead_code()
        gm.recompile()
        return []

    annotators.update({name: dead_code_eliminated for name in saved})
    try:
        yield
    finally:
        annotators.update(saved)


def has_batch_norm(gm: Any) -> bool:
    """Whether ``gm`` has a batch norm call (where the conv-bn annotators may match: they run in full)."""
    return any(n.op == "call_function" and "batch_norm" in str(n.target) for n in gm.graph.nodes)

