"""Standalone repro: torchao's X86InductorQuantizer crashes in ``annotate`` on ``linear(x) + 0.5``.

A quantizer bug found by the harness's quantizer campaign (``python -m harness fuzz --quantizer
harness.quantizers:x86_inductor``). Needs only torch and torchao. Run: ``python
repros/x86_inductor_linear_plus_scalar.py``; exit status 1 while the bug is there, 0 once ``prepare_pt2e`` accepts
the model.

What happens (torchao 0.18, torchao/quantization/pt2e/quantizer/x86_inductor_quantizer.py,
``_annotate_linear_binary_unary`` and ``_get_input_idx_for_binary_node``): the linear-add fusion pattern matches a
linear whose single user is an ``add``; the helper takes the add's *other* operand as an "extra input node" and
asserts it is an fx Node. Adding a Python scalar (``+ 0.5``, a bias shift common in real models) makes that operand
a float, and the assertion fails: ``annotate()`` raises a bare AssertionError instead of leaving the add to the
non-fused path.
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
        self.linear = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.linear(x) + 0.5


def main() -> int:
    exported = torch.export.export(Model().eval(), (torch.randn(2, 8),)).module()
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config())
    try:
        prepare_pt2e(exported, quantizer)
    except AssertionError as e:
        print(f"prepare_pt2e raised AssertionError from X86InductorQuantizer.annotate ({e!r}): the bug")
        return 1
    print("prepare_pt2e accepted linear(x) + 0.5: fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
