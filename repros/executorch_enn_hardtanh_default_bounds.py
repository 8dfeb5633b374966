"""Standalone repro: ExecuTorch's EnnQuantizer (Samsung) crashes in ``annotate`` on ``F.hardtanh_(x)``.

A quantizer bug found by the harness's pytest plugin and quantizer campaign. Needs torch, torchao and executorch
1.5.1 (installed as the project's README says). Run: ``python repros/executorch_enn_hardtanh_default_bounds.py``;
exit status 1 while the bug is there, 0 once fixed.

What happens (executorch 1.5.1, backends/samsung/quantizer/annotator.py, ``_is_hardtanh_for_relux``): torch.export
records ``F.hardtanh_(x)`` as ``aten.hardtanh_(x)`` without its default bounds (-1, 1), and the annotator reads
``node.args[1]``: ``annotate()`` raises ``IndexError: tuple index out of range``. ``F.hardtanh(x, -1.0, 1.0)``
(bounds given) is annotated.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from executorch.backends.samsung.quantizer.quantizer import EnnQuantizer  # noqa: E402


class Model(torch.nn.Module):
    def __init__(self, bounds_given: bool) -> None:
        super().__init__()
        self.bounds_given = bounds_given

    def forward(self, x):
        y = x * 2.0
        return F.hardtanh_(y, -1.0, 1.0) if self.bounds_given else F.hardtanh_(y)


def annotates(bounds_given: bool) -> bool:
    ep = torch.export.export(Model(bounds_given).eval(), (torch.randn(2, 8),))
    gm = ep.module(check_guards=False)
    hardtanh = [n for n in gm.graph.nodes if n.target == torch.ops.aten.hardtanh_.default]
    quantizer = EnnQuantizer()
    gm = quantizer.transform_for_annotation(gm)
    try:
        quantizer.annotate(gm)
    except IndexError as e:
        print(f"bounds_given={bounds_given} ({[n.args[1:] for n in hardtanh]}): annotate raised IndexError ({e})")
        return False
    print(f"bounds_given={bounds_given} ({[n.args[1:] for n in hardtanh]}): annotated")
    return True


def main() -> int:
    if not annotates(bounds_given=True):
        print("the control (bounds given) fails too: not this bug")
        return 2
    if annotates(bounds_given=False):
        print("fixed")
        return 0
    print("hardtanh_ without its default bounds crashes _is_hardtanh_for_relux: the bug")
    return 1


if __name__ == "__main__":
    sys.exit(main())
