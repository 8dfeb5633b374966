"""Standalone repro: torchao's prepare leaves an activation unobserved when an in-place op writes a value computed
from the model's input through a list argument (``cat``) and a buffer.

Known bug ``ao-buffer-walk-skips-lists`` of the harness (corpus/upstream_bugs/in-place-op-on-cat-of-an-input-...).
Needs only torch and torchao. Run: ``python repros/ao_buffer_walk_skips_lists.py``; exit status 1 while the bug is
there, 0 once torchao observes the edge.

What happens (torchao 0.18, torchao/quantization/pt2e/prepare.py ``_is_mutable_buffer_arg`` and
graph_utils.py ``collect_producer_nodes``): before observing the input edge of an in-place op (``add_``), prepare
asks whether the value written is computed from module buffers alone (then it is a buffer update, not observed).
The producer walk looks only at arguments that are nodes themselves; ``cat``'s argument is a *list* of nodes, so
the walk never reaches the placeholder ``x`` behind it, reaches the buffer ``cap``, and concludes "buffer only".
The annotated edge (minimum -> add_), which depends on the model's input, gets no observer and stays in float.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e  # noqa: E402
from torchao.testing.pt2e._xnnpack_quantizer import (  # noqa: E402
    XNNPACKQuantizer,
    get_symmetric_quantization_config,
)


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("cap", torch.ones(1, 6, 8, 8))
        self.conv = torch.nn.Conv2d(6, 4, 3)

    def forward(self, x):
        y = torch.minimum(torch.cat([x, x], 1), self.cap)
        y.add_(y)
        return self.conv(y)


def main() -> int:
    example = (torch.randn(1, 3, 8, 8),)
    exported = torch.export.export(Model().eval(), example).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config())
    prepared = prepare_pt2e(exported, quantizer)
    graph = prepared.graph
    add_ = next(n for n in graph.nodes if n.op == "call_function" and n.target == torch.ops.aten.add_.Tensor)
    first = add_.args[0]
    observed = first.op == "call_module" and first.target.startswith("activation_post_process_")
    print(graph)
    print(f"add_ reads {first.name!r}: " + ("an observer (correct)" if observed else
                                            "the raw value, NOT observed although it depends on the input x (bug)"))
    return 0 if observed else 1


if __name__ == "__main__":
    sys.exit(main())
