"""How long ``harness.fx.build.build`` takes on a 30-node case, cold (empty op cache) and warm; prints ms.

    python benchmarks/bench_build.py [--blocks 4] [--repeat 200]

The case: ``x`` then ``blocks`` blocks of conv2d(+weight, bias) -> relu -> add(previous) -> cat(with itself) ->
split -> getitem, and a final adaptive pool + flatten + linear; every op annotated XNNPACK-style (int8 activation
edges and outputs, int8 weights, shared specs on cat). With 4 blocks that is 30 nodes. Also times
``extract_case`` and the corpus JSON round trip of the same case.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from harness import case as C  # noqa: E402
from harness.case import files as corpus_io  # noqa: E402
from harness.fx import fakeval  # noqa: E402
from harness.fx.build import annotate, build, build_module, extract_case  # noqa: E402

OBS = "torchao.quantization.pt2e.observer."
ACT = C.QSpec("int8", C.Ctor(OBS + "HistogramObserver", (("eps", 2**-12),)), -128, 127, "per_tensor_affine")
WEIGHT = C.QSpec("int8", C.Ctor(OBS + "MinMaxObserver", (("eps", 2**-12),)), -127, 127, "per_tensor_symmetric",
                 ch_axis=0)


def make_case(blocks: int) -> C.Case:
    R = C.Ref
    nodes = [C.Node("x", "placeholder", tensor=C.TensorMeta((1, 4, 8, 8)))]
    anns = []
    prev = "x"
    for b in range(blocks):
        w, bias = f"conv{b}_weight", f"conv{b}_bias"
        nodes += [
            C.Node(w, "get_attr", f"conv{b}.weight", tensor=C.TensorMeta((4, 4, 3, 3)), attr_kind="parameter"),
            C.Node(bias, "get_attr", f"conv{b}.bias", tensor=C.TensorMeta((4,)), attr_kind="parameter"),
            C.Node(f"conv{b}", "call_function", "aten.conv2d.default", (R(prev), R(w), R(bias), (1, 1), (1, 1))),
            C.Node(f"relu{b}", "call_function", "aten.relu.default", (R(f"conv{b}"),)),
            C.Node(f"add{b}", "call_function", "aten.add.Tensor", (R(f"relu{b}"), R(prev))),
            C.Node(f"cat{b}", "call_function", "aten.cat.default", ((R(f"add{b}"), R(f"add{b}")), 1)),
            C.Node(f"split{b}", "call_function", "aten.split.Tensor", (R(f"cat{b}"), 4, 1)),
        ]
        nodes.append(C.Node(f"getitem{b}", "call_function", "getitem", (R(f"split{b}"), 0)))
        anns += [
            C.NodeAnnotation(f"conv{b}", ((prev, ACT), (w, WEIGHT), (bias, None))),
            C.NodeAnnotation(f"relu{b}", output=ACT),
            C.NodeAnnotation(f"add{b}", ((f"relu{b}", ACT), (prev, ACT)), ACT),
            C.NodeAnnotation(f"cat{b}", ((f"add{b}", C.SharedSpec(C.NodeRef(f"add{b}"))),),
                             C.SharedSpec(C.NodeRef(f"add{b}"))),
        ]
        prev = f"getitem{b}"
    nodes += [
        C.Node("pool", "call_function", "aten.adaptive_avg_pool2d.default", (R(prev), (1, 1))),
        C.Node("flat", "call_function", "aten.flatten.using_ints", (R("pool"), 1)),
        C.Node("fc_weight", "get_attr", "fc.weight", tensor=C.TensorMeta((10, 4)), attr_kind="parameter"),
        C.Node("fc", "call_function", "aten.linear.default", (R("flat"), R("fc_weight"))),
        C.Node("output", "output", args=((R("fc"),),)),
    ]
    anns.append(C.NodeAnnotation("fc", (("flat", ACT), ("fc_weight", WEIGHT)), ACT))
    return C.Case(C.Graph(tuple(nodes)), tuple(anns), info=C.Info(title="bench"))


def _ms(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    case = make_case(args.blocks)
    print(f"case: {len(case.graph.nodes)} nodes, {len(case.annotations)} annotations")
    build(case)  # imports and one-time set-up
    fakeval.clear_cache()
    t = time.perf_counter()
    build(case)
    print(f"build, cold op cache:      {(time.perf_counter() - t) * 1e3:7.2f} ms")
    gc.collect()
    gc.freeze()  # as a long-running campaign would: keeps the collector off torch's objects
    med, best = _ms(lambda: build(case), args.repeat)
    print(f"build, warm:               {med:7.2f} ms median, {best:.2f} ms best")
    med, best = _ms(lambda: build_module(case.graph), args.repeat)
    print(f"  build_module alone:      {med:7.2f} ms median, {best:.2f} ms best")
    gm = build_module(case.graph)
    med, best = _ms(lambda: annotate(gm, case.annotations), args.repeat)
    print(f"  annotate alone:          {med:7.2f} ms median, {best:.2f} ms best")
    built = build(case)
    med, best = _ms(lambda: extract_case(built), args.repeat)
    print(f"extract_case:              {med:7.2f} ms median, {best:.2f} ms best")
    med, best = _ms(lambda: corpus_io.loads(corpus_io.dumps(case)), args.repeat)
    print(f"corpus dumps + loads:      {med:7.2f} ms median, {best:.2f} ms best")


if __name__ == "__main__":
    main()
