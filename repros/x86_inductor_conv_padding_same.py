"""Standalone repro: torchao's X86InductorQuantizer crashes in ``annotate`` on ``nn.Conv2d(..., padding="same")``.

A quantizer bug found by the harness's quantizer campaign with the wider op vocabulary (2026-12-04). Needs only torch
and torchao. Run: ``python repros/x86_inductor_conv_padding_same.py``; exit status 1 while the bug is there, 0 once
``prepare_pt2e`` accepts the model.

What happens (torchao 0.18, torchao/quantization/pt2e/quantizer/x86_inductor_quantizer.py, ``_annotate_conv2d``):
``nn.Conv2d`` with a string padding (``"same"`` or ``"valid"``, common in real models) exports as
``aten.conv2d.padding``, not ``aten.conv2d.default``. The conv's source partition (found by its module type) is
matched, then its node is required to be ``conv2d.default`` and the quantizer raises ``ValueError("... is not an aten
conv2d operator")``: ``annotate()`` fails on the whole model instead of quantizing the conv (or leaving it alone).
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e  # noqa: E402
from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (  # noqa: E402
    X86InductorQuantizer,
    get_default_x86_inductor_quantization_config,
)


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding="same")

    def forward(self, x):
        return self.conv(x)


def main() -> int:
    exported = torch.export.export(Model().eval(), (torch.randn(1, 3, 8, 8),)).module()
    targets = {str(n.target) for n in exported.graph.nodes if n.op == "call_function"}
    print(f"exported ops: {sorted(targets)}")
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config())
    try:
        prepare_pt2e(exported, quantizer)
    except ValueError as e:
        print(f"prepare_pt2e raised ValueError from X86InductorQuantizer.annotate ({e}): the bug")
        return 1
    print("prepare_pt2e accepted nn.Conv2d(padding='same'): fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
