"""Reference prepare vs torchao's prepare on large graphs, timed in the same run; prints the ratios.

    python benchmarks/bench_prepare.py [--nodes 7004] [--repeat 3]

The graph: ``x -> op -> op -> ...`` of ``nodes - 2`` operators (relu, with an ``add`` of the two previous values
every fourth node, so values fan out and in), every operator annotated the way XNNPACK annotates activations:
int8 input edges and an int8 output, which implicit sharing merges into one group per value. Both prepares get
fresh, identical graphs. Goals (issue #2): the reference at least 50x faster than torchao on the 14k-node graph,
and doubling the graph costs the reference at most 2.3x the time.
"""

from __future__ import annotations

import argparse
import gc
import os
import time

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import torch  # noqa: E402
from torch._subclasses.fake_tensor import FakeTensorMode  # noqa: E402
from torchao.quantization.pt2e.observer import MinMaxObserver  # noqa: E402
from torchao.quantization.pt2e.prepare import prepare as upstream_prepare  # noqa: E402
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, QuantizationSpec  # noqa: E402

import prepare_impl  # noqa: E402

INT8 = QuantizationSpec(torch.int8, MinMaxObserver, -128, 127, torch.per_tensor_affine)


def build(nodes: int) -> torch.fx.GraphModule:
    with FakeTensorMode():
        val = torch.empty(2, 8)
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    x.meta["val"] = val
    values = [x]
    for i in range(nodes - 2):
        if i % 4 == 3:
            node = graph.call_function(torch.ops.aten.add.Tensor, (values[-1], values[-2]))
        else:
            node = graph.call_function(torch.ops.aten.relu.default, (values[-1],))
        node.meta["val"] = val
        node.meta["quantization_annotation"] = QuantizationAnnotation(
            input_qspec_map={a: INT8 for a in node.all_input_nodes}, output_qspec=INT8, _annotated=True
        )
        values.append(node)
    graph.output((values[-1],))
    return torch.fx.GraphModule(torch.nn.Module(), graph)


def time_prepare(impl, nodes: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gm = build(nodes)
        gc.collect()
        start = time.perf_counter()
        impl(gm, {}, False)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=7004, help="size of the smaller graph (the larger is 2x)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the reference per size (best is kept)")
    parser.add_argument("--upstream-repeat", type=int, default=1, help="runs of torchao per size")
    args = parser.parse_args()
    small, large = args.nodes, 2 * args.nodes - 4  # issue #2 measured 7,004 and 14,004 nodes
    rows = []
    for n in (small, large):
        ref = time_prepare(prepare_impl.prepare, n, args.repeat)
        up = time_prepare(upstream_prepare, n, args.upstream_repeat)
        rows.append((n, ref, up))
        print(f"{n:>7} nodes  reference {ref:8.3f} s   torchao {up:8.3f} s   torchao/reference {up / ref:7.1f}x",
              flush=True)
    (n1, r1, u1), (n2, r2, u2) = rows
    print(f"doubling the graph ({n1} -> {n2} nodes): reference x{r2 / r1:.2f}, torchao x{u2 / u1:.2f}")
    print(f"speed-up on the {n2}-node graph: {u2 / r2:.1f}x (goal >= 50x); reference doubling x{r2 / r1:.2f} "
          "(goal <= 2.3x)")


if __name__ == "__main__":
    main()
