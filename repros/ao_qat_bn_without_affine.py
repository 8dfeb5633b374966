"""Standalone repro: ``prepare_qat_pt2e`` writes a model that cannot run when a convolution feeds a
``BatchNorm2d(affine=False)``.

Known upstream bug ``ao-qat-bn-without-affine`` of the harness (``harness/suite/checks/pipeline_bugs.py``), found by
the quantizer campaign's conv→bn motif. Needs only torch and torchao. Run:
``python repros/ao_qat_bn_without_affine.py``; exit status 1 while the bug is there, 0 once the prepared model runs.

What happens (torchao 0.18, torchao/quantization/pt2e/qat_utils.py ``_fuse_conv_bn_qat_helper``): after the
quantizer annotates the graph, conv→batch_norm is replaced by its QAT form, which scales the weight by
``bn_weight / sqrt(running_var + eps)``. The pattern is matched with ``replace_pattern_with_filters(...,
ignore_literals=True)`` and no filter on the batch norm's affine arguments, so the pattern's ``bn_weight``
placeholder matches the ``None`` that a batch norm without affine parameters has. The replacement then computes
``aten.div(None, running_std)``, and the prepared model raises "Expected a proper Tensor but got None" on its first
call (calibration or training). The same model with ``affine=True`` prepares and runs.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e  # noqa: E402
from torchao.testing.pt2e._xnnpack_quantizer import (  # noqa: E402
    XNNPACKQuantizer,
    get_symmetric_quantization_config,
)


class Model(torch.nn.Module):
    def __init__(self, affine: bool) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4, affine=affine)

    def forward(self, x):
        return self.bn(self.conv(x))


def prepared_runs(affine: bool) -> bool:
    example = (torch.randn(1, 4, 8, 8),)
    exported = torch.export.export(Model(affine).train(), example).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_qat=True))
    prepared = prepare_qat_pt2e(exported, quantizer)
    try:
        prepared(*example)
    except RuntimeError as e:
        print(f"affine={affine}: the prepared model raises {type(e).__name__}: {str(e).splitlines()[0]}")
        print(prepared.graph)
        return False
    print(f"affine={affine}: the prepared model runs")
    return True


def main() -> int:
    if not prepared_runs(affine=True):
        print("the control (affine=True) fails too: not this bug")
        return 2
    if prepared_runs(affine=False):
        return 0
    print("bug: prepare_qat_pt2e's conv-bn rewrite divides None (the missing bn weight) by the running std")
    return 1


if __name__ == "__main__":
    sys.exit(main())
