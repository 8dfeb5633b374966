"""Standalone repro: ExecuTorch's EnnQuantizer (Samsung) annotates ``None`` as an input of a layer norm without
weights.

A quantizer bug found by the harness's quantizer campaign (2026-12-04). Needs torch, torchao and executorch 1.5.1
(installed as the project's README says). Run: ``python repros/executorch_enn_layer_norm_without_weight.py``; exit
status 1 while the bug is there, 0 once fixed.

What happens (executorch 1.5.1, backends/samsung/quantizer/annotator.py, ``annotate_layer_norm``): the annotator
maps ``node.args[2]`` (the weight) to a spec without checking that there is one. ``nn.LayerNorm(..., 
elementwise_affine=False)`` (or ``F.layer_norm(x, shape)``) has no weight: the key is ``None``, a malformed
``input_qspec_map`` that names no input edge (torchao's prepare skips it silently; the harness's well-formedness
check reports it).
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.samsung.quantizer.quantizer import EnnQuantizer  # noqa: E402
from torch.fx import Node  # noqa: E402


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = torch.nn.LayerNorm(8, elementwise_affine=False)

    def forward(self, x):
        return self.norm(x)


def main() -> int:
    gm = torch.export.export(Model().eval(), (torch.randn(2, 8),)).module()
    quantizer = EnnQuantizer()
    gm = quantizer.transform_for_annotation(gm)
    quantizer.annotate(gm)
    bad = []
    for node in gm.graph.nodes:
        annotation = node.meta.get("quantization_annotation")
        if annotation is not None:
            bad += [(node.name, key) for key in annotation.input_qspec_map if not isinstance(key, Node)]
    if bad:
        print(f"input_qspec_map keys that are not nodes: {bad}: the bug")
        return 1
    print("every input_qspec_map key is a node: fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
