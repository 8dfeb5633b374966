"""Standalone repro: torchao's X86InductorQuantizer crashes in ``annotate`` when a model adds with both spellings,
``torch.add(a, b)`` and ``t.add(c)``.

A quantizer bug found by the harness's quantizer campaign (``python -m harness fuzz --quantizer
harness.quantizers:x86_inductor``). Needs only torch and torchao. Run: ``python
repros/x86_inductor_add_spellings_one_partition.py``; exit status 1 while the bug is there, 0 once ``prepare_pt2e``
accepts the model.

What happens (torch 2.13, torch/fx/experimental/proxy_tensor.py, ``create_node``; torchao 0.18,
torchao/quantization/pt2e/quantizer/x86_inductor_quantizer.py, ``_annotate_conv2d_binary`` and
``_get_output_nodes_of_partitions``): export names each call's ``torch_fn`` ``f"{fn.__name__}_{count}"``, counting
calls per function *object*, so the first ``torch.add`` and the first ``Tensor.add`` are both ``add_1``.
``get_source_partitions`` (which the quantizer's ``find_sequential_partitions`` uses for conv -> add) keys a
partition by that name, so the two unrelated adds become one partition with two output nodes, and
``_get_output_nodes_of_partitions`` raises ``ValueError("Input partition has more than one output node")``. With
both adds spelled ``torch.add`` the names differ (``add_1``, ``add_2``) and the same model is annotated.
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
        self.conv = torch.nn.Conv2d(8, 8, 1)
        self.scale = torch.nn.Parameter(torch.randn(4, 4))
        self.register_buffer("shift", torch.randn(1, 8, 4, 4))

    def forward(self, x):
        y = torch.add(self.conv(x), self.shift)  # torch_fn ("add_1", "builtin_function_or_method.add")
        z = self.scale.add(1.0)  # torch_fn ("add_1", "method_descriptor.add"): the same name
        return y, z


def main() -> int:
    exported = torch.export.export(Model().eval(), (torch.randn(1, 8, 4, 4),)).module()
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config())
    try:
        prepare_pt2e(exported, quantizer)
    except ValueError as e:
        if "more than one output node" not in str(e):
            raise
        print(f"prepare_pt2e raised ValueError from X86InductorQuantizer.annotate ({e!r}): the bug")
        return 1
    print("prepare_pt2e accepted torch.add(conv(x), b) beside w.add(1.0): fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
