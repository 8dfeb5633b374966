"""Making the XNNPACK quantizers of :mod:`harness.quantizers` fast without changing what they do (a sibling of
:mod:`harness.quantizer_variants`: it depends only on the quantizers, and the harness names it only through them).

The rule: torchao's test XNNPACKQuantizer (in QAT) and ExecuTorch's (with every static config) run their conv-bn
annotators on every ``annotate()``, and each exports its patterns anew (3 to 8 s of CPU). On a graph without a
batch norm they match nothing (``prepare_pt2e`` fuses conv-bn before annotating); what they do to such a graph is
the dead-code elimination each begins with. :func:`conv_bn_annotators_without_exports` has them do that alone,
dispatched as upstream dispatches them, so the graph and the annotations stay upstream's (tests/suite/
test_xnnpack_qat_factory.py and tests/suite/test_executorch_quantizers.py compare with the plain quantizers).
On a graph with a batch norm they run in full, each pattern exported once per process
(:func:`pattern_exports_once`): a pattern's export depends only on its function and the example shapes.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any, Callable, Iterator

__all__ = ["conv_bn_annotators_without_exports", "has_batch_norm", "pattern_exports_once"]

_PATTERNS: dict[tuple, Any] = {}  # (pattern function, its closure, example shapes, is_cuda) -> the exported pattern


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


def _pattern_key(pattern: Any, example_inputs: tuple, is_cuda: bool, kwargs: dict) -> Any:
    """What a pattern's export depends on: its function's code and the values it closes over (the conv function,
    whether a relu follows and is in place), the example inputs' shapes and dtypes, ``is_cuda``; None (no caching)
    for anything else (a pattern that is not a wrapped function, keyword arguments)."""
    fn = getattr(pattern, "fn", None)
    if kwargs or not callable(fn) or not hasattr(fn, "__code__"):
        return None
    try:
        cells = tuple(c.cell_contents for c in fn.__closure__ or ())
        shapes = tuple((tuple(x.shape), x.dtype) if hasattr(x, "shape") else x for x in example_inputs)
        key = (fn.__code__, cells, shapes, is_cuda)
        hash(key)
    except (TypeError, ValueError):  # an unhashable closure value, an empty cell
        return None
    return key


@contextmanager
def pattern_exports_once(module: Any) -> Iterator[None]:
    """Within the block, ``module._get_aten_graph_module_for_pattern`` (torchao's export of a small pattern, which
    the conv-bn annotators call anew for each of their patterns on every ``annotate()``) exports each pattern once
    per process and hands out a copy of that graph each time after (the annotators edit it: dead-code elimination)."""
    export: Callable = module._get_aten_graph_module_for_pattern

    def exported_once(pattern: Any, example_inputs: tuple, is_cuda: bool = False, **kwargs: Any) -> Any:
        key = _pattern_key(pattern, example_inputs, is_cuda, kwargs)
        if key is None:
            return export(pattern, example_inputs, is_cuda, **kwargs)
        if key not in _PATTERNS:
            _PATTERNS[key] = export(pattern, example_inputs, is_cuda, **kwargs)
        return copy.deepcopy(_PATTERNS[key])

    module._get_aten_graph_module_for_pattern = exported_once
    try:
        yield
    finally:
        module._get_aten_graph_module_for_pattern = export
