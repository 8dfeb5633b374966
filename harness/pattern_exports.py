"""torchao's pattern exports, made once per process (outside the layers: the ready-made quantizers and the quantizer
suite both use it, and it depends on nothing of the harness).

The rule: ``_get_aten_graph_module_for_pattern`` (torchao's ``torch.export`` of a small pattern function, 0.1 to
0.2 s each) is called anew for every pattern on every call of the code that matches them: XNNPACK's conv-bn
annotators (4 to 12 patterns per ``annotate()``) and ``prepare_qat_pt2e``'s conv-bn rewrite (12 per call). A
pattern's export depends only on its function's code, the values it closes over (the conv function, whether a relu
follows and is in place), the example inputs' shapes and dtypes and ``is_cuda``: within :func:`exported_once`, each
is exported the first time and a copy of that graph is handed out after (the callers edit it: dead-code
elimination, replacement). Anything else (keyword arguments, an unhashable closure) is exported as before.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

__all__ = ["exported_once", "PATTERNS"]

PATTERNS: dict[tuple, Any] = {}  # the key of :func:`_key` -> the exported pattern


def _key(pattern: Any, example_inputs: tuple, is_cuda: bool, kwargs: dict) -> Optional[tuple]:
    """What the export of ``pattern`` (a function, or a module wrapping one as ``fn``) depends on, or None."""
    fn = getattr(pattern, "fn", pattern)
    if kwargs or not hasattr(fn, "__code__"):
        return None
    try:
        cells = tuple(c.cell_contents for c in fn.__closure__ or ())
        shapes = tuple((tuple(x.shape), x.dtype) if hasattr(x, "shape") else x for x in example_inputs)
        key = (fn.__code__, cells, shapes, is_cuda)
        hash(key)
    except (TypeError, ValueError):  # an unhashable value closed over, an empty cell
        return None
    return key


@contextmanager
def exported_once(module: Any) -> Iterator[None]:
    """Within the block, ``module._get_aten_graph_module_for_pattern`` (the name a torchao or ExecuTorch module
    imported it under) exports each pattern once per process (:data:`PATTERNS`) and returns a copy each time."""
    export: Callable = module._get_aten_graph_module_for_pattern

    def once(pattern: Any, example_inputs: tuple, is_cuda: bool = False, **kwargs: Any) -> Any:
        key = _key(pattern, example_inputs, is_cuda, kwargs)
        if key is None:
            return export(pattern, example_inputs, is_cuda, **kwargs)
        if key not in PATTERNS:
            PATTERNS[key] = export(pattern, example_inputs, is_cuda, **kwargs)
        return copy.deepcopy(PATTERNS[key])

    module._get_aten_graph_module_for_pattern = once
    try:
        yield
    finally:
        module._get_aten_graph_module_for_pattern = export
