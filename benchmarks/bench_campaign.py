"""Cost of one fuzz case relative to torchao's prepare alone on the same case, measured in the same run.

    python benchmarks/bench_campaign.py [--cases 150] [--seed 0] [--mode mixed] [--generation fast|hypothesis]

For a fixed sample of generated cases it times, per case: torchao's ``prepare`` alone on an already built
module (the floor: what any differential test must at least spend), the build of the case, and the whole
``harness.check.run.check_case`` (three builds, reference and torchao prepare, canonical forms, diff,
invariants); and the generation of the cases, as the campaign's workers draw them (``--generation``: fast, the
default, or hypothesis's engine). It prints the cost of each stage, the ratio
check / upstream-prepare-alone, and the end-to-end ratio (generation + check) / upstream-prepare-alone that a
fuzz campaign pays per case (issue #10's goal: at most 5x), all measured in the same run on the same cases.
The scaling of the campaign with workers is measured by ``benchmarks/bench_scaling.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as hseed  # noqa: E402


def sample(n: int, seed: int, mode: str, generation: str = "fast") -> list:
    from harness.fuzz.worker import case_strategy

    out = []
    if generation == "fast":  # what the campaign's workers do by default: case i from its own source
        from harness.fuzz.search_fast import case_source
        from harness.strategies.fast import fast_example

        strategy = case_strategy(mode, 10)
        t = time.perf_counter()
        out = [fast_example(strategy, case_source(seed, i)) for i in range(n)]
        return out, (time.perf_counter() - t) / max(n, 1)

    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @hseed(seed)
    @given(case_strategy(mode, 10))
    def collect(case):
        out.append(case)

    t = time.perf_counter()
    collect()
    return out, (time.perf_counter() - t) / max(len(out), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", default="mixed", choices=("valid", "adversarial", "mixed"))
    parser.add_argument("--generation", default="fast", choices=("fast", "hypothesis"),
                        help="how cases are drawn: the campaign's default (fast) or hypothesis's engine")
    args = parser.parse_args()

    from torchao.quantization.pt2e.prepare import prepare as upstream

    from harness.fx.build import build
    from harness.check.run import check_case

    sample(5, args.seed + 1, args.mode, args.generation)  # warm the strategies' caches, as a running worker has
    cases, gen = sample(args.cases, args.seed, args.mode, args.generation)
    for c in cases[:5]:  # warm caches (fake tensors, op resolution)
        check_case(c, upstream)

    def timed(fn) -> list[float]:
        times = []
        for c in cases:
            t = time.perf_counter()
            fn(c)
            times.append(time.perf_counter() - t)
        return times

    def upstream_alone(c):
        gm = build(c)
        t = time.perf_counter()
        try:
            upstream(gm, {}, c.is_qat)
        except Exception:  # noqa: BLE001 - adversarial cases make torchao raise; that is its cost too
            pass
        return time.perf_counter() - t

    prep = [upstream_alone(c) for c in cases]
    builds = timed(build)
    checks = timed(lambda c: check_case(c, upstream))
    checks_fs = timed(lambda c: check_case(c, upstream, float_semantics=True))

    def ms(xs):
        return 1000 * statistics.mean(xs)

    print(f"{len(cases)} {args.mode} cases (seed {args.seed}, {args.generation} generation), mean per case:")
    print(f"  generation ({args.generation:10s})    {1000 * gen:7.2f} ms")
    print(f"  torchao prepare alone             {ms(prep):7.2f} ms")
    print(f"  build of the case                 {ms(builds):7.2f} ms")
    print(f"  check_case                        {ms(checks):7.2f} ms   = {ms(checks) / ms(prep):5.1f}x torchao prepare")
    print(f"  check_case + float semantics      {ms(checks_fs):7.2f} ms   = {ms(checks_fs) / ms(prep):5.1f}x")
    end_to_end = 1000 * gen + ms(checks)
    print(f"  end to end (generation + check)   {end_to_end:7.2f} ms   = {end_to_end / ms(prep):5.1f}x torchao prepare"
          " (goal: at most 5x)")
    print(f"  campaign throughput (gen + check) {1 / (gen + statistics.mean(checks)):7.1f} cases/s on one core")
    print(f"  machine load (1 min)              {os.getloadavg()[0]:7.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
