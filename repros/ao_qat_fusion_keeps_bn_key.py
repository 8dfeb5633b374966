"""Standalone repro: torchao's ``prepare_qat_pt2e`` fuses conv-bn after ``annotate`` and leaves the batch norm's
annotation keyed by the conv, which is no longer its input (with ExecuTorch's Arm quantizer).

A bug of torchao's QAT steps, met with a quantizer that annotates a batch norm's input; found by the harness's
pytest plugin (``well_formed[conv_bn_relu][qat]`` of the Arm quantizers). Needs torch, torchao and executorch 1.5.1
with tosa-tools (installed as the project's README says). Run: ``python repros/ao_qat_fusion_keeps_bn_key.py``;
exit status 1 while the bug is there, 0 once fixed.

What happens (torchao 0.18, torchao/quantization/pt2e/quantize_pt2e.py and qat_utils.py): ``prepare_qat_pt2e`` runs
``transform_for_annotation``, ``annotate``, ``validate``, then ``_fuse_conv_bn_qat``, then ``prepare``. The Arm
quantizer annotates the batch norm's input edge ``(conv, batch_norm)``; the fusion rewires the batch norm to read
the scaled conv output, but the annotation keeps the key ``conv``: the graph ``prepare`` receives annotates an edge
that does not exist. The script runs those steps and checks the annotations between the fusion and ``prepare``.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from executorch.backends.arm.quantizer import TOSAQuantizer, get_symmetric_quantization_config  # noqa: E402
from executorch.backends.arm.tosa.specification import TosaSpecification  # noqa: E402
from torchao.quantization.pt2e.qat_utils import _fuse_conv_bn_qat  # noqa: E402


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)

    def forward(self, x):
        return F.adaptive_avg_pool2d(self.bn(self.conv(x)), 1)


def not_inputs(gm: torch.fx.GraphModule) -> list:
    """The ``input_qspec_map`` keys of ``gm`` that are not inputs of their node."""
    bad = []
    for node in gm.graph.nodes:
        annotation = node.meta.get("quantization_annotation")
        if annotation is not None:
            bad += [(node.name, getattr(k, "name", k)) for k in annotation.input_qspec_map if k not in node.all_input_nodes]
    return bad


def main() -> int:
    gm = torch.export.export(Model().train(), (torch.randn(1, 3, 8, 8),)).module(check_guards=False)
    quantizer = TOSAQuantizer(TosaSpecification.create_from_string("TOSA-1.0+INT")).set_global(
        get_symmetric_quantization_config(is_qat=True))
    gm = quantizer.transform_for_annotation(gm)  # prepare_qat_pt2e's steps before prepare
    quantizer.annotate(gm)
    quantizer.validate(gm)
    before = not_inputs(gm)
    _fuse_conv_bn_qat(gm)
    after = not_inputs(gm)
    print(f"annotated keys that are not inputs: after annotate {before or 'none'}, after the fusion {after or 'none'}")
    if before:
        print("the quantizer's own annotations are malformed: not this bug")
        return 2
    if after:
        print("the conv-bn fusion leaves the batch norm's annotation keyed by a node it no longer reads: the bug")
        return 1
    print("fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
