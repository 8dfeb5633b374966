"""Standalone repro: ExecuTorch's ``ExampleQuantizer`` crashes in ``annotate`` on an in-place add into a buffer whose
result is unused.

A quantizer bug found by the harness's pytest plugin and quantizer campaign. Needs torch, torchao and executorch
1.5.1 (installed as the project's README says). Run: ``python repros/executorch_example_unused_add.py``; exit status
1 while the bug is there, 0 once fixed.

What happens (executorch 1.5.1, backends/example/example_operators/add.py, ``_annotate_add``): ``self.state.add_(x)``
(torch.export keeps it: it mutates a buffer) has a source partition whose result nothing reads, so
``partitions[0].output_nodes`` is empty and ``output_nodes[0]`` raises ``IndexError``. The example's other
annotators read the same (``_annotate_linear``, ``_annotate_conv2d`` on an unused linear or conv). The same add
whose result is returned is annotated.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.example.example_quantizer import ExampleQuantizer  # noqa: E402


class Model(torch.nn.Module):
    def __init__(self, result_used: bool) -> None:
        super().__init__()
        self.register_buffer("state", torch.zeros(2, 8))
        self.result_used = result_used

    def forward(self, x):
        if self.result_used:
            return self.state.add_(x).relu()
        self.state.add_(x)  # accumulate into the buffer; the add_'s result is not read
        return x.relu()


def annotates(result_used: bool) -> bool:
    gm = torch.export.export(Model(result_used).eval(), (torch.randn(2, 8),)).module(check_guards=False)
    try:
        ExampleQuantizer().annotate(gm)
    except IndexError as e:
        print(f"result_used={result_used}: ExampleQuantizer.annotate raised IndexError ({e})")
        return False
    print(f"result_used={result_used}: annotated")
    return True


def main() -> int:
    if not annotates(result_used=True):
        print("the control (the add's result returned) fails too: not this bug")
        return 2
    if annotates(result_used=False):
        print("fixed")
        return 0
    print("an in-place add whose result is unused has no output node: the bug")
    return 1


if __name__ == "__main__":
    sys.exit(main())
