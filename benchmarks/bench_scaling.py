"""Throughput of the fuzz campaign with 1 and with 2 local workers, measured in one run.

    python benchmarks/bench_scaling.py [--seconds 60] [--seed 0] [--jobs 2]

Runs ``python -m harness fuzz --seconds S --jobs 1`` then ``--jobs N`` (same seed, findings written to a
temporary directory) and counts the cases each checked (the campaign's last progress line). Prints cases per
second of each and the ratio (issue #10's goal: 2 workers on 2 cores at least 1.7x one worker), with the machine's
load average before and after and the CPU time the campaign's processes got, since other processes share the
cores: a ratio under the goal with as many cases per CPU second is contention, not overhead of the workers.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

_CASES = re.compile(r"(\d+) cases, ([0-9.]+) cases/s")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def campaign(seconds: float, jobs: int, seed: int) -> tuple[int, float, float]:
    """(cases checked, wall seconds, CPU seconds of the campaign's processes) of one campaign."""
    cpu = _children_cpu()
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "harness", "fuzz", "--seconds", str(seconds), "--jobs", str(jobs),
                              "--seed", str(seed), "--out", out], capture_output=True, text=True,
                             env={**os.environ, "TORCHAO_FORCE_SKIP_LOADING_SO_FILES": "1"})
        wall = time.perf_counter() - t
    found = _CASES.findall(run.stdout + run.stderr)
    if not found:
        raise SystemExit(f"no case count in the output of --jobs {jobs} (exit {run.returncode}):\n"
                         f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return int(found[-1][0]), wall, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    load_before = os.getloadavg()
    one, wall_one, cpu_one = campaign(args.seconds, 1, args.seed)
    many, wall_many, cpu_many = campaign(args.seconds, args.jobs, args.seed)
    load_after = os.getloadavg()
    print(f"--seconds {args.seconds:g}, seed {args.seed}, {os.cpu_count()} CPUs")
    print(f"  1 worker    {one:6d} cases in {wall_one:5.1f} s = {one / args.seconds:6.1f} cases/s, "
          f"{cpu_one:5.1f} CPU s ({one / max(cpu_one, 1e-9):5.1f} cases per CPU second)")
    print(f"  {args.jobs} workers   {many:6d} cases in {wall_many:5.1f} s = {many / args.seconds:6.1f} cases/s, "
          f"{cpu_many:5.1f} CPU s ({many / max(cpu_many, 1e-9):5.1f} cases per CPU second)")
    print(f"  scaling     {many / max(one, 1):6.2f}x (goal for 2 workers on 2 cores: at least 1.7x)")
    print(f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min; other processes count)")


if __name__ == "__main__":
    main()
