"""Standalone repro: ExecuTorch's ``CortexMQuantizer.transform_for_annotation()`` crashes on ``torch.matmul(x, w)``
when ``w`` is a parameter (or a buffer).

A quantizer bug found by the harness's quantizer campaign and pytest plugin (the whole op vocabulary). Needs torch,
torchao and executorch 1.5.1 with tosa-tools (installed as the project's README says). Run:
``python repros/executorch_cortex_m_matmul_parameter.py``; exit status 1 while the bug is there, 0 once fixed.

What happens (executorch 1.5.1, backends/cortex_m/passes/matmul_to_bmm_pass.py, ``MatmulToBmmPass.call_operator``,
run by ``CortexMPassManager.transform_for_annotation``): the pass casts both operands of ``aten.matmul`` to
``ProxyValue`` and calls ``.to_tensor()`` on them. An ``ExportPass`` hands a ``get_attr`` operand (a parameter or
buffer of the module) to ``call_operator`` as the tensor itself, not as a ``ProxyValue``, so
``rhs.to_tensor()`` raises ``AttributeError: 'Parameter' object has no attribute 'to_tensor'`` and
``prepare_pt2e`` fails. A matmul of two activations goes through.

The model is exported as ExecuTorch's own flows do (``ep.module(check_guards=False)``).
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.cortex_m.quantizer.quantizer import CortexMQuantizer  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e  # noqa: E402


class MatmulWithWeight(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(8, 4))

    def forward(self, x):
        return torch.matmul(x, self.weight)


class MatmulOfActivations(torch.nn.Module):
    def forward(self, x, y):
        return torch.matmul(x, y)


def prepare(model: torch.nn.Module, *example: torch.Tensor) -> None:
    gm = torch.export.export(model.eval(), example).module(check_guards=False)
    prepare_pt2e(gm, CortexMQuantizer())


def main() -> int:
    prepare(MatmulOfActivations(), torch.randn(2, 8), torch.randn(8, 4))  # the control: must prepare
    try:
        prepare(MatmulWithWeight(), torch.randn(2, 8))
    except AttributeError as e:
        first = str(e).splitlines()[0]
        print(f"prepare_pt2e raised AttributeError from CortexMQuantizer.transform_for_annotation ({first}): the bug")
        return 1
    print("matmul with a parameter prepared: fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
