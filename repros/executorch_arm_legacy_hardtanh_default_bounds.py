"""Standalone repro: ExecuTorch's Arm ``TOSAQuantizer`` in its legacy form (``use_composable_quantizer=False``)
crashes in ``annotate`` on ``F.hardtanh_`` after a conv.

A quantizer bug found by the harness's quantizer campaign with configuration variants (``legacy``). Needs torch,
torchao, executorch 1.5.1 and tosa-tools (installed as the project's README says). Run:
``python repros/executorch_arm_legacy_hardtanh_default_bounds.py``; exit status 1 while the bug is there, 0 once
fixed.

What happens (executorch 1.5.1, backends/arm/quantizer/quantization_annotator.py, ``any_or_hardtanh_min_zero``):
torch.export records ``F.hardtanh_(x)`` as ``aten.hardtanh_.default(x)``, without its default bounds, and the
predicate reads ``n.args[1]`` (the lower bound) of every hardtanh: ``IndexError: tuple index out of range``. The
default (composable) quantizer annotates the same graph; ``F.hardtanh_(x, 0.0, 6.0)`` is annotated by both.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from executorch.backends.arm.quantizer import TOSAQuantizer, get_symmetric_quantization_config  # noqa: E402
from executorch.backends.arm.tosa.specification import TosaSpecification  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e  # noqa: E402


class ConvHardtanh(torch.nn.Module):
    def __init__(self, bounds: tuple) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3)
        self.bounds = bounds

    def forward(self, x):
        return F.hardtanh_(self.conv(x), *self.bounds)


def prepares(bounds: tuple, composable: bool) -> bool:
    """Whether ``prepare_pt2e`` with the Arm quantizer goes through (False when it raises IndexError)."""
    example = (torch.randn(1, 3, 8, 8),)
    gm = torch.export.export(ConvHardtanh(bounds).eval(), example).module()
    tosa = TosaSpecification.create_from_string("TOSA-1.0+INT")
    quantizer = TOSAQuantizer(tosa, use_composable_quantizer=composable)
    quantizer.set_global(get_symmetric_quantization_config())
    try:
        prepare_pt2e(gm, quantizer)
    except IndexError as e:
        print(f"hardtanh_{bounds or ''} ({'composable' if composable else 'legacy'}): IndexError: {e}")
        return False
    print(f"hardtanh_{bounds or ''} ({'composable' if composable else 'legacy'}): prepared")
    return True


def main() -> int:
    if not (prepares((0.0, 6.0), composable=False) and prepares((), composable=True)):
        print("a control fails too: not this bug")
        return 2
    if not prepares((), composable=False):
        print("the legacy Arm quantizer reads the default bounds hardtanh_ was recorded without: the bug")
        return 1
    print("fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
