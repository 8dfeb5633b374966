"""Standalone repro: ExecuTorch's Arm ``TOSAQuantizer.validate()`` takes a symbolic size for a device and fails
``prepare_pt2e`` with "different device inputs" on a CPU-only model.

A quantizer bug found by the harness's pytest plugin (its random graphs, ``einsum`` and ``scatter.value``). Needs
torch, torchao and executorch 1.5.1 with tosa-tools (installed as the project's README says). Run:
``python repros/executorch_arm_validate_symint.py``; exit status 1 while the bug is there, 0 once fixed.

What happens (executorch 1.5.1):

* ``TOSAQuantizer.validate`` (backends/arm/quantizer/arm_quantizer.py) collects, for every op, the ``device`` of the
  ``meta["val"]`` of each input node, with ``getattr(val, "device", f"Could not get device from {val}")``. A
  ``sym_size.int`` node's value is a ``SymInt``, which has no device: the check sees two "devices" (``cpu`` and
  ``Could not get device from s53``) and raises ``ValueError``. All tensors are on the CPU.
* Such a ``SymInt`` input appears in a model exported with a dynamic batch (``x.reshape(x.shape[0], -1)``), and also
  in a fully static one: when the graph has an int64 buffer, ``transform_for_annotation`` retraces it with
  ``InsertInt32CastsAfterInt64PlaceholdersPass``, an ``ExportPass``, which fakes buffers with symbolic sizes
  (exir/pass_base.py: ``from_tensor(x)`` without ``static_shapes`` for a tensor that is not a Parameter); then
  ``DecomposeEinsumPass`` traces ``einsum`` on those sizes and writes ``sym_size.int`` nodes into the graph.

The models are exported as ExecuTorch's own Arm flow does (``ep.module(check_guards=False)``).
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.arm.quantizer import TOSAQuantizer, get_symmetric_quantization_config  # noqa: E402
from executorch.backends.arm.tosa.specification import TosaSpecification  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e  # noqa: E402


class Static(torch.nn.Module):
    """einsum with a buffer, scatter with an int64 index buffer: no dynamic shape anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("other", torch.randn(2, 8))
        self.register_buffer("index", torch.tensor([[0, 1], [1, 0]]))

    def forward(self, x):
        return torch.scatter(torch.einsum("ij,kj->ik", x, self.other), 1, self.index, 0.0)


class DynamicBatch(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.linear(x).reshape(x.shape[0], -1)


def fails(model: torch.nn.Module, dynamic_shapes=None) -> bool:
    ep = torch.export.export(model.eval(), (torch.randn(2, 8),), dynamic_shapes=dynamic_shapes)
    quantizer = TOSAQuantizer(TosaSpecification.create_from_string("TOSA-1.0+INT")).set_global(
        get_symmetric_quantization_config())
    try:
        prepare_pt2e(ep.module(check_guards=False), quantizer)
    except ValueError as e:
        if "different device inputs" not in str(e):
            raise
        print(f"{type(model).__name__}: prepare_pt2e raised ValueError from TOSAQuantizer.validate: {e}")
        return True
    print(f"{type(model).__name__}: prepared")
    return False


def main() -> int:
    batch = {"x": {0: torch.export.Dim("batch", min=2, max=64)}}
    if fails(Static()) | fails(DynamicBatch(), batch):
        print("a CPU-only model is rejected for 'different device inputs' (a SymInt taken for a device): the bug")
        return 1
    print("both models prepared: fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
