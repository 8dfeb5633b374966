"""Standalone repro: ExecuTorch's ``QnnQuantizer`` changes the graph inside ``annotate()`` (on purpose), in QAT and in
PTQ.

A quantizer bug found by the harness's pytest plugin and quantizer campaign: ``annotate`` must change only
annotations (graph edits belong in ``transform_for_annotation``, which ``prepare_pt2e`` runs first). Needs torch,
torchao and executorch 1.5.1 (installed as the project's README says; the QNN SDK is not needed). Run:
``python repros/executorch_qnn_annotate_edits_graph.py``; exit status 1 while either edit is there, 0 once fixed.

What happens (executorch 1.5.1, backends/qualcomm/quantizer):

* QAT (``conv_bn.py``, ``_materialize_conv_bias``): a conv without bias that feeds a batch norm gets a new zero-bias
  parameter, and the conv a third argument, so the derived bias spec has a node to sit on;
* PTQ (``quantizer.py``, ``annotate`` ends with ``_replace_inf``): infinite constants, such as the ``-inf`` of the
  mask of a causal ``scaled_dot_product_attention``, are rewritten to the quantized range ("the only place we have
  sufficient information for min-max ranges").

The numerics are unchanged in the first case; the second changes what the float graph computes.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from executorch.backends.qualcomm.quantizer.quantizer import QnnQuantizer, QuantDtype  # noqa: E402


class ConvBn(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, bias=False)
        self.bn = torch.nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.conv(x))


class CausalAttention(torch.nn.Module):
    def forward(self, x):
        return F.scaled_dot_product_attention(x, x, x, is_causal=True)


def graph_text(gm: torch.fx.GraphModule) -> str:
    """The graph, its constants' values and its parameters and buffers, as text."""
    consts = [f"{n.name}: {n.args} {n.kwargs}" for n in gm.graph.nodes if n.op == "call_function"]
    attrs = [f"{name}: {tuple(t.shape)}" for name, t in [*gm.named_parameters(), *gm.named_buffers()]]
    return "\n".join([str(gm.graph), *consts, *attrs])


def annotate_edits(model: torch.nn.Module, example: tuple, is_qat: bool) -> bool:
    model = model.train() if is_qat else model.eval()
    gm = torch.export.export(model, example).module(check_guards=False)
    was = torch.backends.mkldnn.enabled
    quantizer = QnnQuantizer()  # may turn MKLDNN off on an AMD host; restored below
    torch.backends.mkldnn.enabled = was
    if is_qat:
        quantizer.set_default_quant_config(QuantDtype.use_8a8w, is_qat=True)
    gm = quantizer.transform_for_annotation(gm)
    before = graph_text(gm)
    quantizer.annotate(gm)
    after = graph_text(gm)
    changed = sorted(set(after.splitlines()) - set(before.splitlines()))
    label = f"{type(model).__name__} ({'QAT' if is_qat else 'PTQ'})"
    print(f"{label}: annotate() " + ("changed the graph:\n  " + "\n  ".join(changed) if changed else
                                     "changed only annotations"))
    return bool(changed)


def main() -> int:
    edits = [annotate_edits(ConvBn(), (torch.randn(1, 3, 8, 8),), is_qat=True),
             annotate_edits(CausalAttention(), (torch.randn(1, 2, 4, 8),), is_qat=False)]
    if any(edits):
        print("annotate() edits the graph (a zero conv bias in QAT, the infinite constants in PTQ): the bug")
        return 1
    print("fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
