"""Standalone repro: ``prepare_qat_pt2e`` writes a model that cannot run when a ``ConvTranspose2d`` with ``groups > 1``
feeds a batch norm.

Known upstream bug ``ao-qat-grouped-conv-transpose-bn`` of the harness (``harness/suite/checks/pipeline_bugs.py``),
found by the pytest plugin's QAT random graphs (the whole op vocabulary with motifs; the plugin crashed on it with
the harness's own error before the harness learned to tell a graph that cannot run). Needs only torch and torchao.
Run: ``python repros/ao_qat_grouped_conv_transpose_bn.py``; exit status 1 while the bug is there, 0 once the
prepared model runs.

What happens (torchao 0.18, torchao/quantization/pt2e/qat_utils.py, ``_get_qat_conv_bn_pattern``): after the
quantizer annotates the graph, transposed conv→batch_norm is replaced by its QAT form, which scales the weight by
``bn_weight / sqrt(running_var + eps)`` reshaped along the weight's dimension 1 (``weight_in_channel_axis = 1`` for a
transposed conv). A transposed conv's weight is ``[in_channels, out_channels / groups, ...]``: with ``groups=2`` the
factor has ``out_channels`` entries and dimension 1 only half as many, and the prepared model raises a shape error on
its first call. The same model with ``groups=1`` prepares and runs. ``prepare_pt2e`` (PTQ) fails on the same model
too, in its batch-norm folding (pytorch/pytorch#180995).
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e  # noqa: E402
from torchao.testing.pt2e._xnnpack_quantizer import (  # noqa: E402
    XNNPACKQuantizer,
    get_symmetric_quantization_config,
)


class Model(torch.nn.Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.deconv = torch.nn.ConvTranspose2d(4, 4, 2, groups=groups)
        self.bn = torch.nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.deconv(x))


def prepared_runs(groups: int) -> bool:
    example = (torch.randn(1, 4, 8, 8),)
    exported = torch.export.export(Model(groups).train(), example).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_qat=True))
    prepared = prepare_qat_pt2e(exported, quantizer)
    try:
        prepared(*example)
    except RuntimeError as e:
        print(f"groups={groups}: the prepared model raises {type(e).__name__}: {str(e).splitlines()[0]}")
        return False
    print(f"groups={groups}: the prepared model runs")
    return True


def main() -> int:
    if not prepared_runs(groups=1):
        print("the control (groups=1) fails too: not this bug")
        return 2
    if prepared_runs(groups=2):
        print("fixed")
        return 0
    print("the QAT rewrite of a grouped transposed conv and a batch norm cannot run: the bug")
    return 1


if __name__ == "__main__":
    sys.exit(main())
