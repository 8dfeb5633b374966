"""Standalone repro: ExecuTorch's Cadence ``CatPattern`` makes the input edge of ``torch.cat([x, x])`` share with
itself.

A quantizer bug found by the harness's quantizer campaign with configuration variants (``wake_word``). Needs torch,
torchao and executorch 1.5.1 (installed as the project's README says). Run:
``python repros/executorch_cadence_cat_self_sharing.py``; exit status 1 while the bug is there, 0 once fixed.

What happens (executorch 1.5.1, backends/cadence/aot/quantizer/patterns.py, ``CatPattern.get_anchors``, used by
``CadenceWakeWordQuantizer`` and ``CadenceFusedConvReluQuantizer``): the first input of the cat gets the concrete
activation spec and every later input ``SharedQuantizationSpec((args[0][0], cat))``; the quantizer keys
``input_qspec_map`` by node, so when a later input is the first input's node again the shared spec replaces the
concrete one: the edge ``(x, cat)`` shares with itself, a sharing cycle (torchao's ``prepare_pt2e`` recurses until
``RecursionError``). ``torch.cat([x, y])`` is annotated soundly.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.cadence.aot.quantizer.quantizer import CadenceWakeWordQuantizer  # noqa: E402
from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec  # noqa: E402


class CatSelf(torch.nn.Module):
    def forward(self, x):
        return torch.cat([x, x], dim=1)


class CatTwo(torch.nn.Module):
    def forward(self, x, y):
        return torch.cat([x, y], dim=1)


def self_shared(model: torch.nn.Module, *example: torch.Tensor) -> list:
    """The input edges of ``model``'s annotated graph whose spec shares with the edge itself."""
    gm = torch.export.export(model, example, strict=True).module()
    quantizer = CadenceWakeWordQuantizer()
    gm = quantizer.transform_for_annotation(gm)
    quantizer.annotate(gm)
    found = []
    for node in gm.graph.nodes:
        annotation = node.meta.get("quantization_annotation")
        for arg, spec in (annotation.input_qspec_map.items() if annotation is not None else ()):
            if isinstance(spec, SharedQuantizationSpec) and spec.edge_or_node == (arg, node):
                found.append((arg.name, node.name))
    print(f"{type(model).__name__}: input edges that share with themselves: {found or 'none'}")
    return found


def main() -> int:
    x = torch.randn(1, 3, 8, 8)
    if self_shared(CatTwo(), x, torch.randn(1, 3, 8, 8)):
        print("the control (cat([x, y])) shares an edge with itself too: not this bug")
        return 2
    if self_shared(CatSelf(), x):
        print("cat([x, x]): the input edge shares with itself (a sharing cycle): the bug")
        return 1
    print("fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
