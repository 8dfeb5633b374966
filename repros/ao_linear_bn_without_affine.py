"""Standalone repro: ``prepare_pt2e`` crashes on ``nn.Linear`` followed by ``nn.BatchNorm1d(affine=False)``, whatever
the quantizer.

Known upstream bug ``ao-linear-bn-without-affine`` of the harness (``harness/suite/checks/pipeline_bugs.py``), found
by the pytest plugin's random graphs (the whole op vocabulary with motifs). Needs only torch and torchao. Run:
``python repros/ao_linear_bn_without_affine.py``; exit status 1 while the bug is there, 0 once fixed.

What happens (torchao 0.18, torchao/quantization/pt2e/utils.py, ``_fuse_linear_bn_`` and
``fold_bn_weights_into_linear_node``): before the quantizer runs, ``prepare_pt2e`` folds each batch norm that reads a
linear into the linear's weight, and passes the batch norm's weight and bias as they are to torch's
``fuse_linear_bn_weights``, which needs tensors (``bn_scale = bn_w * torch.rsqrt(...)``). A batch norm without
affine parameters has ``None`` there: ``TypeError: unsupported operand type(s) for *: 'NoneType' and 'Tensor'``.
The conv path does not fail: torch's ``fuse_conv_bn_weights`` replaces a missing weight by ones and a missing bias by
zeros. The same model with ``affine=True`` prepares.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e  # noqa: E402
from torchao.testing.pt2e._xnnpack_quantizer import (  # noqa: E402
    XNNPACKQuantizer,
    get_symmetric_quantization_config,
)


class Model(torch.nn.Module):
    def __init__(self, affine: bool) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 16)
        self.bn = torch.nn.BatchNorm1d(16, affine=affine)

    def forward(self, x):
        return self.bn(self.linear(x))


def prepares(affine: bool) -> bool:
    exported = torch.export.export(Model(affine).eval(), (torch.randn(2, 8),)).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config())
    try:
        prepare_pt2e(exported, quantizer)
    except TypeError as e:
        print(f"affine={affine}: prepare_pt2e raised TypeError: {e}")
        return False
    print(f"affine={affine}: prepared")
    return True


def main() -> int:
    if not prepares(affine=True):
        print("the control (affine=True) fails too: not this bug")
        return 2
    if prepares(affine=False):
        print("fixed")
        return 0
    print("the batch norm without affine parameters fails the linear-bn folding: the bug")
    return 1


if __name__ == "__main__":
    sys.exit(main())
