"""Standalone repro: torchao's X86InductorQuantizer crashes in ``annotate`` when a conv (or linear) output is added in
place into a buffer and the result of the in-place add is not used: ``self.state.add_(self.conv(x))``.

A quantizer bug found by the harness's pytest plugin (its random graphs, the whole op vocabulary with motifs). Needs
only torch and torchao. Run: ``python repros/x86_inductor_in_place_add_unused.py``; exit status 1 while the bug is
there, 0 once fixed.

What happens (torchao 0.18, torchao/quantization/pt2e/quantizer/x86_inductor_quantizer.py): the conv-add (and
linear-add) fusion patterns match the conv and the in-place ``add_`` (``find_sequential_partitions(gm,
[torch.nn.Conv2d, operator.add])``); ``_get_output_nodes_of_partitions`` then reads ``partition.output_nodes[0]`` of
each partition. Nothing reads the ``add_``'s result (torch.export keeps the write to the buffer), so its partition
has no output node and ``annotate()`` raises IndexError. The same conv added out of place (``self.conv(x) +
self.state``) prepares. ArmInductorQuantizer inherits the code. A relative of the unused-conv crash
(``repros/x86_inductor_unused_conv.py``), at another place of the same file.
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
    def __init__(self, in_place: bool) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.register_buffer("state", torch.zeros(1, 4, 8, 8))
        self.in_place = in_place

    def forward(self, x):
        if self.in_place:
            self.state.add_(self.conv(x))  # accumulate into the buffer; the add_'s result is not read
            return x.relu()
        return self.conv(x) + self.state


def prepares(in_place: bool) -> bool:
    exported = torch.export.export(Model(in_place).eval(), (torch.randn(1, 4, 8, 8),)).module()
    quantizer = X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config())
    try:
        prepare_pt2e(exported, quantizer)
    except IndexError as e:
        print(f"in_place={in_place}: prepare_pt2e raised IndexError from X86InductorQuantizer.annotate ({e})")
        return False
    print(f"in_place={in_place}: prepared")
    return True


def main() -> int:
    if not prepares(in_place=False):
        print("the control (an add out of place) fails too: not this bug")
        return 2
    if prepares(in_place=True):
        print("fixed")
        return 0
    print("a conv added in place into a buffer crashes annotate: the bug")
    return 1


if __name__ == "__main__":
    sys.exit(main())
