"""Standalone repro: ExecuTorch's ``CadenceW8A32MixedQuantizer`` crashes in ``annotate`` on a linear whose input is
a vector (1-D), the vector-matrix case its pattern is written for.

A quantizer bug found by the harness's quantizer campaign with configuration variants (``w8a32_mixed``). Needs
torch, torchao and executorch 1.5.1 (installed as the project's README says). Run:
``python repros/executorch_cadence_w8a32_linear_1d_input.py``; exit status 1 while the bug is there, 0 once fixed.

What happens (executorch 1.5.1, backends/cadence/aot/quantizer/patterns.py, ``MixedW8A32LinearPattern.get_anchors``):
to keep to vector-matrix products the pattern bails out when ``len(input_shape) > 0 and input_shape[-2] != 1``; the
guard means ``len(input_shape) > 1``: a 1-D input (``nn.Linear`` accepts one, an unbatched vector) with a size that
is a multiple of 4 passes the first test and ``input_shape[-2]`` raises ``IndexError: tuple index out of range``.
A 2-D input ``[1, 8]`` is annotated.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.cadence.aot.quantizer.quantizer import CadenceW8A32MixedQuantizer  # noqa: E402


class Head(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 16)

    def forward(self, x):
        return self.linear(x)


def annotate(example: torch.Tensor) -> None:
    gm = torch.export.export(Head().eval(), (example,), strict=True).module()
    quantizer = CadenceW8A32MixedQuantizer()
    gm = quantizer.transform_for_annotation(gm)
    quantizer.annotate(gm)


def main() -> int:
    annotate(torch.randn(1, 8))  # the control: a batch of one vector
    print("Linear on a [1, 8] input: annotated")
    try:
        annotate(torch.randn(8))
    except IndexError as e:
        print(f"Linear on an [8] input: annotate() raised IndexError ({e}): the bug")
        return 1
    print("Linear on an [8] input: annotated: fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
