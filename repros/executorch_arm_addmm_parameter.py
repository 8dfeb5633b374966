"""Standalone repro: ExecuTorch's Arm ``TOSAQuantizer.transform_for_annotation()`` crashes on
``torch.addmm(self.bias, x, self.weight)`` (a linear layer written as ``addmm``, as Hugging Face's GPT-2 ``Conv1D``
does).

A quantizer bug found by the harness's pytest plugin (its random graphs, the whole op vocabulary). Needs torch,
torchao and executorch 1.5.1 with tosa-tools (installed as the project's README says). Run:
``python repros/executorch_arm_addmm_parameter.py``; exit status 1 while the bug is there, 0 once fixed.

What happens (executorch 1.5.1): ``DecomposeAddmmPass`` (backends/arm/_passes/decompose_addmm_pass.py) rewrites
``addmm(input, mat1, mat2)`` as ``mul(mat1, mat2) * alpha + input * beta``, the last a ``mul.Scalar`` on the bias.
``ReplaceScalarWithTensorByProfilePass`` then turns that ``mul.Scalar`` into ``mul.Tensor`` and reads
``args[0].to_tensor()`` (backends/transforms/replace_scalar_with_tensor.py, ``get_replacement``). The bias is a
parameter of the module, a ``get_attr`` operand that an ``ExportPass`` hands to ``call_operator`` as the tensor
itself, not as a ``ProxyValue``: ``AttributeError: 'Parameter' object has no attribute 'to_tensor'``, wrapped by
the pass manager in ``Exception("An error occurred when running the 'ReplaceScalarWithTensorByProfilePass' pass
...")``, and ``prepare_pt2e`` fails. With an activation as the added input, ``torch.addmm(x, x, self.weight)``
prepares.

The model is exported as ExecuTorch's own Arm flow does (``ep.module(check_guards=False)``).
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.arm.quantizer import TOSAQuantizer, get_symmetric_quantization_config  # noqa: E402
from executorch.backends.arm.tosa.specification import TosaSpecification  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e  # noqa: E402


class Addmm(torch.nn.Module):
    def __init__(self, bias_is_parameter: bool) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(8, 8))
        self.bias = torch.nn.Parameter(torch.randn(8))
        self.bias_is_parameter = bias_is_parameter

    def forward(self, x):
        return torch.addmm(self.bias if self.bias_is_parameter else x, x, self.weight)


def root(e: BaseException) -> BaseException:
    while e.__cause__ is not None:
        e = e.__cause__
    return e


def prepares(bias_is_parameter: bool) -> bool:
    gm = torch.export.export(Addmm(bias_is_parameter).eval(), (torch.randn(8, 8),)).module(check_guards=False)
    quantizer = TOSAQuantizer(TosaSpecification.create_from_string("TOSA-1.0+INT")).set_global(
        get_symmetric_quantization_config())
    try:
        prepare_pt2e(gm, quantizer)
    except Exception as e:  # noqa: BLE001 - the pass manager wraps the cause in a bare Exception
        cause = root(e)
        if not isinstance(cause, AttributeError):
            raise
        print(f"bias_is_parameter={bias_is_parameter}: prepare_pt2e raised {type(e).__name__} caused by "
              f"AttributeError: {str(cause).splitlines()[0]}")
        return False
    print(f"bias_is_parameter={bias_is_parameter}: prepared")
    return True


def main() -> int:
    if not prepares(bias_is_parameter=False):
        print("the control (an activation as the added input) fails too: not this bug")
        return 2
    if prepares(bias_is_parameter=True):
        print("fixed")
        return 0
    print("addmm of a parameter bias crashes transform_for_annotation: the bug")
    return 1


if __name__ == "__main__":
    sys.exit(main())
