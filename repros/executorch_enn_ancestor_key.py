"""Standalone repro: ExecuTorch's EnnQuantizer (Samsung) annotates a permute's input edge by an ancestor that is not
its input, after ``relu -> clone -> permute``.

A quantizer bug found by the harness's pytest plugin and quantizer campaign. Needs torch, torchao and executorch
1.5.1 (installed as the project's README says). Run: ``python repros/executorch_enn_ancestor_key.py``; exit status 1
while the bug is there, 0 once fixed.

What happens (executorch 1.5.1, backends/samsung/quantizer/annotator.py, ``annotate_1in1out_with_SharedQuant``): the
annotator looks up the nearest annotated ancestor of the node (here the relu, past the unannotated clone) and keys
``input_qspec_map`` by that ancestor instead of by the node's input: the permute's annotation names ``relu``, which
is not an input of the permute (a malformed annotation; torchao's prepare skips or misplaces it, the harness's
well-formedness check reports ``NotAnInputError``). Without the clone the key is the input.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.samsung.quantizer.quantizer import EnnQuantizer  # noqa: E402


class Model(torch.nn.Module):
    def __init__(self, clone: bool) -> None:
        super().__init__()
        self.clone = clone

    def forward(self, x):
        y = torch.relu(x)
        return (y.clone() if self.clone else y).permute(1, 0)


def not_inputs(clone: bool) -> list:
    """The ``input_qspec_map`` keys of the annotated graph that are not inputs of their node."""
    gm = torch.export.export(Model(clone).eval(), (torch.randn(2, 8),)).module(check_guards=False)
    quantizer = EnnQuantizer()
    gm = quantizer.transform_for_annotation(gm)
    quantizer.annotate(gm)
    bad = []
    for node in gm.graph.nodes:
        annotation = node.meta.get("quantization_annotation")
        if annotation is not None:
            bad += [(node.name, getattr(k, "name", k)) for k in annotation.input_qspec_map if k not in node.all_input_nodes]
    print(f"clone={clone}: input_qspec_map keys that are not inputs of their node: {bad or 'none'}")
    return bad


def main() -> int:
    if not_inputs(clone=False):
        print("the control (relu -> permute) is malformed too: not this bug")
        return 2
    if not_inputs(clone=True):
        print("relu -> clone -> permute: the permute's input is keyed by its ancestor: the bug")
        return 1
    print("fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
