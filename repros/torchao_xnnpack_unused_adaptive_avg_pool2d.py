"""Standalone repro: torchao's (test) XNNPACKQuantizer crashes in ``annotate`` on an adaptive average pool or a cat
whose result is unused.

A quantizer bug found by the harness (the quantizer campaign, on a case exported with ``strict=True``). Needs only
torch and torchao. Run: ``python repros/torchao_xnnpack_unused_adaptive_avg_pool2d.py``; exit status 1 while the bug
is there, 0 once fixed.

What happens (torchao 0.18, torchao/testing/pt2e/_xnnpack_quantizer_utils.py, ``_annotate_adaptive_avg_pool2d``
and ``_annotate_cat``): the op's source partition (an ``nn.AdaptiveAvgPool2d`` module; ``F.adaptive_avg_pool2d`` or
``torch.cat`` in a strict export, which records ``source_fn_stack``) has no output nodes when nothing reads the
op's result (torch.export keeps the call), and ``partition.output_nodes[0]`` raises IndexError. ExecuTorch's copy of
the quantizer annotates the same models.
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


class UnusedPool(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        self.pool(x)  # computed, never read
        return x


class UnusedCat(torch.nn.Module):
    def forward(self, x):
        torch.cat([x, x], 1)  # computed, never read
        return x


def crashes(model: torch.nn.Module, op, strict: bool) -> bool:
    """Whether prepare_pt2e raises IndexError on ``model`` (exported with ``strict``); exit 2 if export drops ``op``."""
    exported = torch.export.export(model.eval(), (torch.randn(1, 4, 8, 8),), strict=strict).module()
    if not any(n.target == op for n in exported.graph.nodes):
        print(f"torch.export dropped the unused {op}: the case cannot be reproduced this way")
        sys.exit(2)
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config())
    try:
        prepare_pt2e(exported, quantizer)
    except IndexError as e:
        print(f"{type(model).__name__}: prepare_pt2e raised IndexError from XNNPACKQuantizer.annotate ({e!r})")
        return True
    print(f"{type(model).__name__}: prepare_pt2e accepted it")
    return False


def main() -> int:
    pool = crashes(UnusedPool(), torch.ops.aten.adaptive_avg_pool2d.default, strict=False)
    cat = crashes(UnusedCat(), torch.ops.aten.cat.default, strict=True)
    if pool or cat:
        print("an unused adaptive average pool or cat crashes annotate: the bug")
        return 1
    print("both accepted: fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
