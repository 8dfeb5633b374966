"""Standalone repro: ExecuTorch's ``ExampleQuantizer`` annotates a Python scalar as an input of ``x + 1.0``, and
``prepare_pt2e`` fails on it.

A quantizer bug found by the harness's quantizer campaign and pytest plugin (scalars as operands). Needs torch,
torchao and executorch 1.5.1 (installed as the project's README says). Run:
``python repros/executorch_example_add_scalar.py``; exit status 1 while the bug is there, 0 once fixed.

What happens (executorch 1.5.1, backends/example/example_operators/add.py, ``_annotate_add``): the annotator puts
``add_node.args[1]`` into ``input_qspec_map`` without checking that it is a node. For ``x + 1.0`` (also
``torch.add(x, 1.0)``, ``x.add(0.5)``, ``x + 1``) it is a number: the key ``1.0`` names no input edge (a malformed
annotation), and torchao's ``prepare_pt2e`` raises ``Exception: Expected input_edge to have type Tuple[Node, Node],
but got: (1.0, add)``.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.example.example_quantizer import ExampleQuantizer  # noqa: E402
from torch.fx import Node  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e  # noqa: E402


class Model(torch.nn.Module):
    def forward(self, x):
        return x + 1.0


def main() -> int:
    gm = torch.export.export(Model().eval(), (torch.randn(2, 8),)).module(check_guards=False)
    quantizer = ExampleQuantizer()
    quantizer.annotate(gm)
    bad = [(node.name, key) for node in gm.graph.nodes
           if (annotation := node.meta.get("quantization_annotation")) is not None
           for key in annotation.input_qspec_map if not isinstance(key, Node)]
    fresh = torch.export.export(Model().eval(), (torch.randn(2, 8),)).module(check_guards=False)
    try:
        prepare_pt2e(fresh, ExampleQuantizer())
        prepared = "prepare_pt2e accepted it"
    except Exception as e:  # noqa: BLE001 - torchao raises a bare Exception
        prepared = f"prepare_pt2e raised {type(e).__name__}: {e}"
    if bad:
        print(f"input_qspec_map keys that are not nodes: {bad}; {prepared}: the bug")
        return 1
    print(f"every input_qspec_map key is a node ({prepared}): fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
