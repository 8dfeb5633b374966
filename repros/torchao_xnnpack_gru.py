"""Standalone repro: torchao's (test) XNNPACKQuantizer crashes in ``annotate`` on an ``nn.GRU`` called the usual way:
without an initial state (``y, _ = gru(x)``), or with its last hidden state unused.

A quantizer bug found by the harness (the quantizer campaign, once it generated recurrent modules). Needs only
torch and torchao. Run: ``python repros/torchao_xnnpack_gru.py``; exit status 1 while the bug is there, 0 once
fixed.

What happens (torchao 0.18, torchao/testing/pt2e/_xnnpack_quantizer_utils.py, ``_annotate_gru_io_only``): the
annotator takes the GRU's source partition and assumes two input nodes (the input and the initial hidden state)
and two output nodes (the output sequence and the last hidden state).

* Without an initial state, ``nn.GRU`` makes the zeros inside its own call, so they belong to the partition. The
  partition has one input node, and ``input_nodes[1]`` raises IndexError.
* With an initial state but the last hidden state never read, the partition has one output node (the ``getitem``
  nobody reads is not an output), and ``assert len(output_nodes) == 2`` fails.
* Where it does not crash, it annotates one of the GRU's two inputs, not both: it assigns the input's annotation to
  the first user of the input and then the hidden state's to the first user of the hidden state. Both are the one
  ``aten.gru.input`` node that ``torch.export`` writes today (the annotator was written for a GRU decomposed into
  linears), so the second assignment replaces the first, and one input is left unquantized.
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


class GruWithoutState(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = torch.nn.GRU(8, 8, batch_first=True)

    def forward(self, x):
        y, _ = self.gru(x)
        return y


class GruStateUnused(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = torch.nn.GRU(8, 8, batch_first=True)

    def forward(self, x, h):
        y, _ = self.gru(x, h)
        return y


class GruBothRead(GruStateUnused):
    def forward(self, x, h):
        y, h = self.gru(x, h)
        return y, h


def crash(model: torch.nn.Module, *inputs: torch.Tensor):
    """The exception prepare_pt2e raises from XNNPACKQuantizer.annotate on ``model``, or None."""
    exported = torch.export.export(model.eval(), inputs).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config())
    try:
        prepare_pt2e(exported, quantizer)
    except (IndexError, AssertionError) as e:
        print(f"{type(model).__name__}: prepare_pt2e raised {type(e).__name__} from annotate ({e!r})")
        return e
    print(f"{type(model).__name__}: prepare_pt2e accepted it")
    return None


def gru_inputs_annotated(*inputs: torch.Tensor) -> int:
    """How many of the GRU call's two inputs (the input, the initial state) the quantizer annotates."""
    exported = torch.export.export(GruBothRead().eval(), inputs).module()
    XNNPACKQuantizer().set_global(get_symmetric_quantization_config()).annotate(exported)
    (gru,) = [n for n in exported.graph.nodes if n.target == torch.ops.aten.gru.input]
    annotation = gru.meta.get("quantization_annotation")
    named = set(annotation.input_qspec_map) if annotation is not None else set()
    return len(named & set(gru.args[:2]))


def main() -> int:
    x, h = torch.randn(1, 3, 8), torch.zeros(1, 1, 8)
    if crash(GruBothRead(), x, h) is not None:  # the shape the annotator expects: it must pass
        print("even a GRU with its state given and both outputs read crashes: not this bug")
        return 2
    without_state = isinstance(crash(GruWithoutState(), x), IndexError)
    state_unused = isinstance(crash(GruStateUnused(), x, h), AssertionError)
    annotated = gru_inputs_annotated(x, h)
    print(f"GruBothRead: {annotated} of the GRU call's 2 inputs annotated")
    if without_state or state_unused or annotated < 2:
        print("a GRU without an initial state, or with its last hidden state unused, crashes annotate, or one of "
              "its inputs is left unannotated: the bug")
        return 1
    print("accepted, both inputs annotated: fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
