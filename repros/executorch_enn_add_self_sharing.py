"""Standalone repro: ExecuTorch's EnnQuantizer (Samsung) makes the input edge of ``x + x`` share with itself.

A quantizer bug found by the harness's pytest plugin and quantizer campaign. Needs torch, torchao and executorch
1.5.1 (installed as the project's README says). Run: ``python repros/executorch_enn_add_self_sharing.py``; exit
status 1 while the bug is there, 0 once fixed.

What happens (executorch 1.5.1, backends/samsung/quantizer/annotator.py, ``annotate_2in1out_with_SharedQuant``):
the annotator gives the add's first input a spec and its second input ``SharedQuantizationSpec((first_input, add))``,
keying ``input_qspec_map`` by node. For ``x + x`` both inputs are the same node, so the second entry replaces the
first: the edge ``(x, add)`` shares with itself, a sharing cycle (torchao's ``prepare_pt2e`` recurses until
``RecursionError``). ``x + y`` is annotated soundly.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.samsung.quantizer.quantizer import EnnQuantizer  # noqa: E402
from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec  # noqa: E402


class AddSelf(torch.nn.Module):
    def forward(self, x):
        return x + x


class AddTwo(torch.nn.Module):
    def forward(self, x, y):
        return x + y


def self_shared(model: torch.nn.Module, *example: torch.Tensor) -> list:
    """The input edges of ``model``'s annotated graph whose spec shares with the edge itself."""
    gm = torch.export.export(model.eval(), example).module(check_guards=False)
    quantizer = EnnQuantizer()
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
    if self_shared(AddTwo(), torch.randn(2, 8), torch.randn(2, 8)):
        print("the control (x + y) shares an edge with itself too: not this bug")
        return 2
    if self_shared(AddSelf(), torch.randn(2, 8)):
        print("x + x: the input edge shares with itself (a sharing cycle): the bug")
        return 1
    print("fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
