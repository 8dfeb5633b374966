"""What a campaign costs through the command line, per case, against torchao's prepare alone, in the same run.

    python benchmarks/bench_cli.py [--seconds 30] [--seed 0] [--mode valid|mixed] [--jobs 1]

It runs ``python -m harness fuzz`` as a user does (torchao as the candidate, one worker by default), reads from its
summary the cases checked, the run's length and each worker's start-up (from its start to its first case), then
draws the same cases as that worker (the fast source, from the worker's seed) and times torchao's ``prepare`` alone
on each in this process. A worker searches from its first case until ``SEARCH_MARGIN`` before the end of the budget:
that time over the cases is the cost per case once started. Printed: start-up apart; that cost, as a ratio to
torchao's prepare alone (issue #16's goal: at most 5x in valid mode, start-up excluded); the machine's load.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

SEARCH_MARGIN = 1.0  # harness.fuzz.session.SEARCH_MARGIN (not imported: this process times torchao alone)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(seconds: float, seed: int, mode: str, jobs: int) -> dict:
    """One real command-line campaign: cases, seconds, start-ups (from its summary)."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "harness", "fuzz", "--seconds", str(seconds), "--seed", str(seed), "--mode",
               mode, "--jobs", str(jobs), "--out", out, "--quiet"]
        started = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=seconds * 2 + 120)
        wall = time.time() - started
    text = proc.stdout
    m = re.search(r"^(?:interrupted: )?(\d+) cases in ([\d.]+) s", text, re.M)
    s = re.search(r"worker start-up \(from its start to its first case\): ([\d.]+) s for the first"
                  r"(?:, ([\d.]+) s at most)?", text)
    if m is None or s is None:
        raise SystemExit(f"could not read the campaign's summary (exit {proc.returncode}):\n{text}\n{proc.stderr}")
    return {"cases": int(m.group(1)), "seconds": float(m.group(2)), "wall": wall, "startup": float(s.group(1)),
            "exit": proc.returncode}


def torchao_alone(n: int, seed: int, mode: str, max_nodes: int = 10) -> float:
    """Mean seconds of torchao's prepare alone on the first ``n`` cases the worker of ``seed`` draws."""
    from torchao.quantization.pt2e.prepare import prepare as upstream

    from harness.fuzz.target import case_strategy
    from harness.fx.build import build
    from harness.strategies.fast import fast_example

    strategy, rng = case_strategy(mode, max_nodes), random.Random(seed)
    times = []
    for _ in range(n):
        case = fast_example(strategy, rng)
        gm = build(case)
        t = time.perf_counter()
        try:
            upstream(gm, {}, case.is_qat)
        except Exception:  # noqa: BLE001 - torchao's failures cost time too
            pass
        times.append(time.perf_counter() - t)
    return statistics.mean(times[5:] or times)  # the first few pay for warming caches, as a started worker has


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", default="valid", choices=("valid", "mixed", "adversarial"))
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    run = run_cli(args.seconds, args.seed, args.mode, args.jobs)
    # a worker searches from its first case until SEARCH_MARGIN before the end of the budget
    searching = max(args.seconds - run["startup"] - SEARCH_MARGIN, 1e-9) * args.jobs
    per_case = searching / max(run["cases"], 1)
    # the worker's seed: the campaign's seed + its index (harness.fuzz.campaign._Driver.spec)
    alone = torchao_alone(min(run["cases"], 400), args.seed, args.mode)
    print(f"command line: {run['cases']} {args.mode} cases in {run['seconds']:.1f} s ({run['wall']:.1f} s wall, "
          f"exit {run['exit']}), {args.jobs} job(s), seed {args.seed}")
    print(f"  worker start-up (start to first case)  {run['startup']:7.2f} s   (goal: under 2 s)")
    print(f"  per case once started                  {1000 * per_case:7.2f} ms")
    print(f"  torchao prepare alone, same cases      {1000 * alone:7.2f} ms")
    print(f"  ratio                                  {per_case / alone:7.1f}x   (goal: at most 5x, start-up excluded)")
    print(f"  machine load (1 min)                   {os.getloadavg()[0]:7.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
