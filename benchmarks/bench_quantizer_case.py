"""What one case of the quantizer campaign costs against the ``torch.export`` of the same program, its floor
(quantizers match on what export records, so every case pays one export).

    python benchmarks/bench_quantizer_case.py [--cases 60] [--seed 0] [--profile] [NAME ...]

NAME is a factory of ``harness.quantizers`` (default: torchao's XNNPACK and ExecuTorch's XNNPACK when it installs).
The cases are those the campaign draws (the quantizer target's own strategy, drawn by the fast source: the whole
vocabulary, motifs, one QAT case in four). For each case, in this process and in the same run:

* ``export``: the module program of the case's graph and ``torch.export.export`` of it, then ``ep.module()``;
  with ``strict=True`` for a quantizer whose factory says ``export_strict`` (Cadence) and for a case drawn as a
  strict export (``Case.strict_export``, one in four of the others), as the campaign exports
  its cases;
* ``quantizer``: upstream's own steps on the exported graph (``run_quantizer``: the batch-norm fusions, and the
  quantizer's ``transform_for_annotation``, ``annotate`` and ``validate``), without the reach tracer;
* ``case``: the target's whole check of the case (export, the quantizer's steps under the reach tracer, the
  well-formedness check, the reference and torchao's prepare, the invariants);

and prints the totals, the ratio ``case / export`` (the goal: at most 1.5x), ``(case - quantizer) / export``,
what the harness adds to the export beside the quantizer's own time, and ``(export + quantizer) / export``, the
floor no harness can go under (every case pays its export and the quantizer's own steps: a quantizer whose own
steps cost more than half an export, as Arm TOSA's and QNN's ``transform_for_annotation`` passes do, cannot meet
the goal); with ``--profile``, the functions of the harness that cost the most beyond the export. Each is timed twice
per case, the fastest kept.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import time
import warnings

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")


def _export(graph, strict: bool = False) -> None:
    import torch

    from harness import strategies
    from harness.fx.build import example_inputs

    module = strategies.graph_to_module(graph)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = torch.export.export(module, example_inputs(graph), strict=strict)
    ep.module()


def _best(fn, *args) -> float:
    best = float("inf")
    for _ in range(2):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best


def _quantizer_time(graph, source, strict: bool) -> float:
    from harness.suite.checks.quantizer_run import run_quantizer
    from harness.suite.subjects.case_graphs import graph_module_for_quantizer

    best = float("inf")
    for _ in range(2):
        gm = graph_module_for_quantizer(graph, strict)  # not timed: a fresh graph each time
        t = time.perf_counter()
        run_quantizer(gm, source, 0)
        best = min(best, time.perf_counter() - t)
    return best


def measure(name: str, n: int, seed: int, profile: bool) -> None:
    from harness.fuzz.config import CampaignConfig
    from harness.strategies.fast import fast_example
    from harness.suite.fuzz_target import quantizer_target
    from harness.suite.source import load_quantizer_factory, qat_variant

    spec = f"harness.quantizers:{name}"
    target = quantizer_target(CampaignConfig(quantizer=spec))
    ptq = load_quantizer_factory(spec)
    qat = qat_variant(ptq) if ptq.qat_capable else ptq
    rnd = random.Random(seed)
    cases = []
    while len(cases) < n:
        case = fast_example(target.strategy, rnd)
        try:
            _export(case.graph, ptq.export_strict or case.strict_export)  # also warms the caches of both paths
        except Exception:  # noqa: BLE001 - a graph that does not export is built instead: not an export's cost
            continue
        cases.append(case)
    export = case_total = quantizer = 0.0
    profiler = cProfile.Profile() if profile else None
    for case in cases:
        strict = ptq.export_strict or case.strict_export
        export += _best(_export, case.graph, strict)
        quantizer += _quantizer_time(case.graph, qat if case.is_qat else ptq, strict)
        target.check(case)  # the first check of a graph pays its one-off costs, as in a campaign it does once
        if profiler is not None:
            profiler.enable()
        case_total += _best(target.check, case)
        if profiler is not None:
            profiler.disable()
    print(f"{name}: {n} cases ({sum(c.is_qat for c in cases)} QAT, {sum(c.strict_export for c in cases)} strict), "
          f"per case: export {export / n * 1e3:.1f} ms, "
          f"quantizer {quantizer / n * 1e3:.1f} ms, whole case {case_total / n * 1e3:.1f} ms; "
          f"case/export {case_total / export:.2f}x (goal <= 1.5x), (case - quantizer)/export "
          f"{(case_total - quantizer) / export:.2f}x; the floor, export and quantizer alone: "
          f"{(export + quantizer) / export:.2f}x")
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(r"harness|prepare_impl|quantizer", 25)
        print(out.getvalue())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", default=["xnnpack", "executorch_xnnpack"])
    p.add_argument("--cases", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}")
    for name in args.names:
        try:
            measure(name, args.cases, args.seed, args.profile)
        except ImportError as e:
            print(f"{name}: not installed ({e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
