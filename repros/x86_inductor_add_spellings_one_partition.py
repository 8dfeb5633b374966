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

When the second add reads the first (``torch.add(conv(x), b).add(c)``), the shared partition has one output node,
the second add, which does not read the conv; ``_get_input_idx_for_binary_node`` finds neither argument to be the
conv and indexes the arguments with None: ``TypeError`` (its callers check for None only after it returns). When the
conv's add is never read and the other add has a scalar operand (``w.add(0.5)``), the partition's one output is
that other add, and the same function reads ``.op`` of the scalar: ``AttributeError``.
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


class Chained(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(8, 8, 1)
        self.register_buffer("shift", torch.randn(1, 8, 4, 4))

    def forward(self, x):
        return torch.add(self.conv(x), self.shift).add(self.shift)  # add_1 and add_1, the second reading the first


class ConvAddUnused(Model):
    def forward(self, x):
        torch.add(self.conv(x), self.shift)  # add_1, never read
        return self.scale.add(0.5)  # add_1 too: the partition's one output, which does not read the conv


def crash(model: torch.nn.Module):
    """The exception prepare_pt2e raises from X86InductorQuantizer.annotate on ``model``, or None."""
    exported = torch.export.export(model.eval(), (torch.randn(1, 8, 4, 4),)).module()
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config())
    try:
        prepare_pt2e(exported, quantizer)
    except (ValueError, TypeError, AttributeError) as e:
        print(f"{type(model).__name__}: prepare_pt2e raised {type(e).__name__} from annotate ({e!r})")
        return e
    print(f"{type(model).__name__}: prepare_pt2e accepted it")
    return None


def main() -> int:
    beside = crash(Model())
    chained = crash(Chained())
    unused = crash(ConvAddUnused())
    if (isinstance(beside, ValueError) and "more than one output node" in str(beside)) or isinstance(
            chained, TypeError) or isinstance(unused, AttributeError):
        print("torch.add beside, chained into or unused beside Tensor.add crashes annotate: the bug")
        return 1
    print("prepare_pt2e accepted the three models: fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
