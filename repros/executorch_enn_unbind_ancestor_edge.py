"""Standalone repro: ExecuTorch's EnnQuantizer (Samsung) makes an unbind's output share with an edge that does not
exist, after ``relu -> clamp_min -> unbind``.

A quantizer bug found by the harness's quantizer campaign. Needs torch, torchao and executorch 1.5.1 (installed as
the project's README says). Run: ``python repros/executorch_enn_unbind_ancestor_edge.py``; exit status 1 while the
bug is there, 0 once fixed.

What happens (executorch 1.5.1, backends/samsung/quantizer/annotator.py, ``annotate_unbind``): the annotator looks up
the nearest annotated ancestor of the unbind's input (here the relu, past the clamp_min it does not annotate) and makes
the unbind's output (and each getitem's) ``SharedQuantizationSpec((relu, unbind))``: an edge from the relu into the
unbind, which the graph does not have (a dangling reference: the harness's well-formedness check reports
``DanglingReferenceError``; torchao's prepare fails on it). Its ``input_qspec_map`` is keyed by the real input. The
same root cause as ``annotate_1in1out_with_SharedQuant``'s ancestor key (repros/executorch_enn_ancestor_key.py). Without
the clamp the edge is the real one.
"""

import os
import sys

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from executorch.backends.samsung.quantizer.quantizer import EnnQuantizer  # noqa: E402
from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec  # noqa: E402


class Model(torch.nn.Module):
    def __init__(self, clamp: bool) -> None:
        super().__init__()
        self.clamp = clamp

    def forward(self, x):
        y = torch.relu(x)
        return (torch.clamp_min(y, 0.0) if self.clamp else y).unbind(0)


def missing_edges(clamp: bool) -> list:
    """The edges ``(producer, consumer)`` that a SharedQuantizationSpec of the annotated graph names and the graph
    does not have."""
    gm = torch.export.export(Model(clamp).eval(), (torch.randn(2, 3, 8),)).module(check_guards=False)
    quantizer = EnnQuantizer()
    gm = quantizer.transform_for_annotation(gm)
    quantizer.annotate(gm)
    bad = []
    for node in gm.graph.nodes:
        annotation = node.meta.get("quantization_annotation")
        specs = list(annotation.input_qspec_map.values()) + [annotation.output_qspec] if annotation else []
        for spec in specs:
            edge = spec.edge_or_node if isinstance(spec, SharedQuantizationSpec) else None
            if isinstance(edge, tuple) and edge[0] not in edge[1].all_input_nodes:
                bad.append((node.name, edge[0].name, edge[1].name))
    print(f"clamp={clamp}: shared specs naming an edge the graph does not have: {bad or 'none'}")
    return bad


def main() -> int:
    if missing_edges(clamp=False):
        print("the control (relu -> unbind) is malformed too: not this bug")
        return 2
    if missing_edges(clamp=True):
        print("relu -> clamp -> unbind: the unbind's output shares with the edge relu -> unbind: the bug")
        return 1
    print("fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
