"""Standalone repro: torchao's ``prepare_qat_pt2e`` crashes in its conv-bn fusion when the quantizer left the conv
unquantized (an annotation with an empty ``input_qspec_map``).

A torchao bug found by the harness's quantizer campaign with configuration variants (X86Inductor, ``skip_types``).
Needs torch and torchao (installed as the project's README says). Run:
``python repros/ao_qat_fusion_conv_without_specs.py``; exit status 1 while the bug is there, 0 once fixed.

What happens (torchao 0.18, quantization/pt2e/qat_utils.py, ``_update_conv_input_qspec_map_after_replacement``):
after rewriting a conv-bn pair, the fusion moves the conv's annotation to the new conv and assumes its
``input_qspec_map`` holds at least the input and the weight: ``all_configs[0]`` and ``all_configs[1]``. The
``X86InductorQuantizer`` marks a conv it skips (``set_module_type_qconfig(nn.Conv2d, None)``) with an annotation whose
map is empty, so the fusion raises ``IndexError: list index out of range``. The same model prepares when the conv is
quantized.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e  # noqa: E402
from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (  # noqa: E402
    X86InductorQuantizer,
    get_default_x86_inductor_quantization_config,
)


class ConvBn(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3)
        self.bn = torch.nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn(self.conv(x))


def prepares(skip_convs: bool) -> bool:
    """Whether ``prepare_qat_pt2e`` goes through (False when it raises IndexError)."""
    gm = torch.export.export(ConvBn().train(), (torch.randn(1, 3, 8, 8),)).module()
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config(is_qat=True))
    if skip_convs:
        quantizer.set_module_type_qconfig(torch.nn.Conv2d, None)
    try:
        prepare_qat_pt2e(gm, quantizer)
    except IndexError as e:
        print(f"conv-bn, convs {'skipped' if skip_convs else 'quantized'}: IndexError: {e}")
        return False
    print(f"conv-bn, convs {'skipped' if skip_convs else 'quantized'}: prepared")
    return True


def main() -> int:
    if not prepares(skip_convs=False):
        print("the control (the conv quantized) fails too: not this bug")
        return 2
    if not prepares(skip_convs=True):
        print("the conv-bn fusion indexes the specs of a conv the quantizer left unquantized: the bug")
        return 1
    print("fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
