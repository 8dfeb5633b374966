"""How fast the fuzz campaign catches each mutant, of the reference and of torchao's own prepare (each must come
out NEW within 60 s), and the median time to the first new finding.

    python benchmarks/bench_mutants.py [--seconds 60] [--seed 0] [--set reference|upstream|all] [--only NAME ...]
    python benchmarks/bench_mutants.py --groups [--seconds 45] ...

Runs ``python -m harness fuzz --candidate harness.mutants:NAME --seconds S`` for every mutant (one process each,
as a user would; ``S`` is the budget of the whole run) and prints a table: mutant, the rule it breaks, caught?
(exit status 1), seconds to the first failing case (from the start of the run, imports included), the size of
the finding (shrunk, or as found when the budget ran out) and the wall time of the run.

With ``--groups`` each run goes on to the end of its budget (no ``--stop-on-new``) and the table gives, per mutant, the
number of NEW groups and findings the summary reports (issue #16's goal: one bug, at most 3 groups), and the largest.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FINDING_LINE = re.compile(r"first seen at (?P<first>[\d.]+)s, (?:shrunk to )?(?P<nodes>\d+) nodes")
NEW_LINE = re.compile(r"finding \((NEW|REFERENCE\?)")
COUNT_LINE = re.compile(r"; (?P<groups>\d+) new group\(s\)(?: \((?P<findings>\d+) findings?\))?")


def main() -> None:
    from harness.mutants import MUTANTS, UPSTREAM_MUTANTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--set", default="all", choices=("reference", "upstream", "all"))
    parser.add_argument("--mode", default="mixed", choices=("valid", "adversarial", "mixed"))
    parser.add_argument("--groups", action="store_true",
                        help="run each campaign to the end of its budget and count the NEW groups it reports")
    args = parser.parse_args()
    if args.groups:
        return count_groups(args)
    rules = {**({} if args.set == "upstream" else MUTANTS), **({} if args.set == "reference" else UPSTREAM_MUTANTS)}
    names = args.only or list(rules)
    env = dict(os.environ, TORCHAO_FORCE_SKIP_LOADING_SO_FILES="1")
    rows = []
    for name in names:
        out = Path(tempfile.mkdtemp(prefix=f"mutant-{name}-"))
        start = time.time()
        proc = subprocess.run(
            [sys.executable, "-m", "harness", "fuzz", "--candidate", f"harness.mutants:{name}", "--seconds",
             str(args.seconds), "--seed", str(args.seed), "--out", str(out), "--mode", args.mode, "--stop-on-new"],
            capture_output=True, text=True, env=env,
        )
        wall = time.time() - start
        # each finding's report says "first seen at X s, shrunk to N nodes" (or "N nodes, not shrunk")
        lines = proc.stdout.splitlines()  # "finding (NEW, ...)" then "first seen at ..." on the next line
        seen = [FINDING_LINE.search(nxt) for line, nxt in zip(lines, lines[1:]) if NEW_LINE.search(line)]
        first = min((float(m["first"]) for m in seen if m), default=None)
        nodes = min((int(m["nodes"]) for m in seen if m), default=None)
        caught = proc.returncode == 1  # 0: nothing new; 3: the harness failed; 130: interrupted
        rows.append((name, {**MUTANTS, **UPSTREAM_MUTANTS}[name], caught, first, nodes, wall))
        print(f"{name:32s} caught={caught!s:5s} first={first if first is not None else '-'!s:>6}s "
              f"nodes={nodes if nodes is not None else '-'!s:>3} wall={wall:5.1f}s", flush=True)
    firsts = sorted(r[3] for r in rows if r[3] is not None)
    median = firsts[len(firsts) // 2] if firsts else None
    print(f"\n{sum(r[2] for r in rows)}/{len(rows)} caught (exit 1); median time to the first new finding "
          f"{median if median is not None else '-'} s (from the start of the run, start-up included)")
    print()
    print("| mutant | rule broken | caught | first new finding (s) | nodes | wall (s) |")
    print("|---|---|---|---|---|---|")
    for name, rule, caught, first, nodes, wall in rows:
        print(f"| {name} | {rule} | {'yes' if caught else 'NO'} | {first if first is not None else '-'} | "
              f"{nodes if nodes is not None else '-'} | {wall:.1f} |")


def count_groups(args) -> None:
    """Each mutant's campaign run to the end of its budget: the NEW groups and findings its summary reports."""
    from harness.mutants import MUTANTS, UPSTREAM_MUTANTS

    rules = {**({} if args.set == "upstream" else MUTANTS), **({} if args.set == "reference" else UPSTREAM_MUTANTS)}
    env = dict(os.environ, TORCHAO_FORCE_SKIP_LOADING_SO_FILES="1")
    rows = []
    for name in args.only or list(rules):
        out = Path(tempfile.mkdtemp(prefix=f"mutant-{name}-"))
        proc = subprocess.run(
            [sys.executable, "-m", "harness", "fuzz", "--candidate", f"harness.mutants:{name}", "--seconds",
             str(args.seconds), "--seed", str(args.seed), "--out", str(out), "--mode", args.mode],
            capture_output=True, text=True, env=env,
        )
        m = COUNT_LINE.search(proc.stdout)
        groups, findings = (int(m["groups"]), int(m["findings"] or 0)) if m else (None, None)
        rows.append((name, proc.returncode, groups, findings))
        print(f"{name:40s} exit={proc.returncode} new groups={groups} findings={findings}", flush=True)
    counted = [r[2] for r in rows if r[2] is not None]
    print(f"\n{len(rows)} mutants, {args.seconds:g} s each: at most {max(counted, default=0)} NEW group(s) per run; "
          f"{sum(g > 3 for g in counted)} run(s) over 3; {len(rows) - len(counted)} summary(ies) unread")
    print("\n| mutant | exit | NEW groups | NEW findings |\n|---|---|---|---|")
    for name, status, groups, findings in rows:
        print(f"| {name} | {status} | {groups if groups is not None else '?'} | "
              f"{findings if findings is not None else '?'} |")


if __name__ == "__main__":
    main()
