"""Standalone repro: torchao's X86InductorQuantizer crashes in ``annotate`` on a convolution whose result is unused.

A quantizer bug found by the harness (the quantizer campaign and the plugin's random graphs). Needs only torch and
torchao. Run: ``python repros/x86_inductor_unused_conv.py``; exit status 1 while the bug is there, 0 once fixed.

What happens (torchao 0.18, torchao/quantization/pt2e/quantizer/x86_inductor_quantizer.py, ``_annotate_conv2d``):
the conv's source partition has no output nodes when nothing reads the conv's result (torch.export keeps such a
conv in the training IR), and ``conv_partition.output_nodes[0]`` raises IndexError.
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
        self.conv = torch.nn.Conv2d(4, 4, 3, groups=4)

    def forward(self, x):
        self.conv(x)  # computed, never read
        return x


def main() -> int:
    exported = torch.export.export(Model().eval(), (torch.randn(1, 4, 8, 8),)).module()
    if not any(n.target == torch.ops.aten.conv2d.default for n in exported.graph.nodes):
        print("torch.export dropped the unused conv: the case cannot be reproduced this way")
        return 2
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config())
    try:
        prepare_pt2e(exported, quantizer)
    except IndexError as e:
        print(f"prepare_pt2e raised IndexError from X86InductorQuantizer.annotate ({e!r}): the bug")
        return 1
    print("prepare_pt2e accepted the unused conv: fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
