"""Standalone repro: ExecuTorch's EnnQuantizer (Samsung) crashes in ``annotate`` on an RMS norm without weight.

A quantizer bug found by the harness's pytest plugin (its random graphs, the whole op vocabulary). Needs torch,
torchao and executorch 1.5.1 (installed as the project's README says). Run:
``python repros/executorch_enn_rms_norm_without_weight.py``; exit status 1 while the bug is there, 0 once fixed.

What happens (executorch 1.5.1, backends/samsung/quantizer/annotator.py, ``annotate_rms_norm``): the annotator maps
``node.args[2]`` (the weight) to a spec without checking that there is one. ``F.rms_norm(x, [8])`` or
``nn.RMSNorm(8, elementwise_affine=False)`` export as ``aten.rms_norm(x, [8])``, with two arguments: ``annotate()``
raises ``IndexError: tuple index out of range``. ``nn.RMSNorm(8)`` (with a weight) is annotated. The layer norm's
annotator has the same assumption and writes a ``None`` key instead
(``repros/executorch_enn_layer_norm_without_weight.py``).
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.samsung.quantizer.quantizer import EnnQuantizer  # noqa: E402


def annotates(norm: torch.nn.Module) -> bool:
    gm = torch.export.export(norm.eval(), (torch.randn(2, 8),)).module(check_guards=False)
    quantizer = EnnQuantizer()
    gm = quantizer.transform_for_annotation(gm)
    try:
        quantizer.annotate(gm)
    except IndexError as e:
        print(f"{norm}: EnnQuantizer.annotate raised IndexError ({e})")
        return False
    print(f"{norm}: annotated")
    return True


def main() -> int:
    if not annotates(torch.nn.RMSNorm(8)):
        print("the control (an RMS norm with a weight) fails too: not this bug")
        return 2
    if annotates(torch.nn.RMSNorm(8, elementwise_affine=False)):
        print("fixed")
        return 0
    print("an RMS norm without weight crashes annotate_rms_norm: the bug")
    return 1


if __name__ == "__main__":
    sys.exit(main())
