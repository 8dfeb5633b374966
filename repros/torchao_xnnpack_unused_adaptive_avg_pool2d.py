"""Standalone repro: torchao's (test) XNNPACKQuantizer crashes in ``annotate`` on an adaptive average pool whose
result is unused.

A quantizer bug found by the harness (the quantizer campaign, on a case exported with ``strict=True``). Needs only
torch and torchao. Run: ``python repros/torchao_xnnpack_unused_adaptive_avg_pool2d.py``; exit status 1 while the bug
is there, 0 once fixed.

What happens (torchao 0.18, torchao/testing/pt2e/_xnnpack_quantizer_utils.py, ``_annotate_adaptive_avg_pool2d``):
the pool's source partition (an ``nn.AdaptiveAvgPool2d`` module, or ``F.adaptive_avg_pool2d`` in a strict export)
has no output nodes when nothing reads the pool's result (torch.export keeps the call), and
``partition.output_nodes[0]`` raises IndexError. ExecuTorch's copy of the quantizer annotates the same model.
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
    def __init__(self) -> None:
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        self.pool(x)  # computed, never read
        return x


def main() -> int:
    exported = torch.export.export(Model().eval(), (torch.randn(1, 4, 8, 8),)).module()
    if not any(n.target == torch.ops.aten.adaptive_avg_pool2d.default for n in exported.graph.nodes):
        print("torch.export dropped the unused pool: the case cannot be reproduced this way")
        return 2
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config())
    try:
        prepare_pt2e(exported, quantizer)
    except IndexError as e:
        print(f"prepare_pt2e raised IndexError from XNNPACKQuantizer.annotate ({e!r}): the bug")
        return 1
    print("prepare_pt2e accepted the unused pool: fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
