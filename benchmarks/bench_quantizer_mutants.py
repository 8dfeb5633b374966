"""The mutation test of the quantizer campaign: how fast ``python -m harness fuzz --quantizer`` finds each seeded
annotator bug of :mod:`harness.mutants.quantizers`, and whether the unmodified quantizers they are built on stay
clean.

    python benchmarks/bench_quantizer_mutants.py [--seconds 60] [--seed 0] [--jobs 2] [--generation fast|guided]
                                                 [--only NAME ...] [--no-bases] [--stop-on-new] [--logs DIR]
                                                 [--from-logs]

For each mutant it runs the real command line, one process at a time, as a user would::

    python -m harness fuzz --quantizer harness.mutants.quantizers:NAME --jobs 2 --seconds 60 --seed S --out TMP

and reads, from what it prints, every NEW finding with the time it was first seen (``first seen at X s``: seconds
from the start of ``python -m harness``, start-up included; the campaign's own clock) and its file. A NEW finding
is the mutant's when, checked again here with the campaign's own check
(:func:`harness.suite.checks.quantizer_case.check_with_quantizer`), the mutant fails its case the same way and the
unmodified base quantizer does not: the base quantizers have findings of their own (real bugs, upstream failures, cases over
the time limit), which are told apart this way; a timeout, a crash or a case that does not fail again is unjudged
(the case a finding saves is the graph as annotate() left it: after a graph edit inside annotate() the gate may be
gone from it; such findings are listed apart, with their files, to be read).
The time to the
first finding is that of the mutant's first finding; "not found" when there is none. By default the runs do not
stop at the first NEW finding (``--stop-on-new`` makes them), because a finding of the base quantizer would end
the run before the mutant's bug is reached. Then each base quantizer runs alone for the same budget: it is clean
when it exits 0 with no NEW finding.

It prints a line per run as it goes, then two tables (mutants; base quantizers), the number found, the median
time to the first finding (over every mutant, a mutant not found counting as never found, and over the found
ones) and the load average of the machine during the runs (sampled every second). Each run's output and figures
are kept in ``--logs``; ``--from-logs`` prints the tables again from them (the finding files they name must still
exist), judging the findings anew.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FINDING = re.compile(r"finding \((?P<status>[A-Z?]+), (?P<kind>\w+)\): (?P<signature>.*)$")
SEEN = re.compile(r"first seen at (?P<seen>[\d.]+)s, .*?(?:written to (?P<path>\S+\.json))?$")
CASES = re.compile(r"^(?P<cases>\d+) cases in (?P<secs>[\d.]+) s")
TABLE = re.compile(r"^group +status +findings")


@dataclass
class Finding:
    status: str
    kind: str
    signature: str
    seen: float
    path: Optional[str]
    owner: str = "?"  # "mutant", "base" or "?" (not judged: a timeout, a crash, a file not written)


@dataclass
class Run:
    spec: str
    status: int
    wall: float
    cases: Optional[int]
    findings: list[Finding]
    load: list[float] = field(default_factory=list)
    summary: dict[str, str] = field(default_factory=dict)  # group -> status, from the summary's table

    @property
    def new(self) -> list[Finding]:
        """The findings reported NEW (a timeout the re-run did not reproduce is left out: the summary says
        ``TIMEOUT?``)."""
        return [f for f in self.findings if f.status == "NEW"
                and not (f.kind == "timeout" and self.summary.get("timeout", "NEW") != "NEW")]

    @property
    def new_groups(self) -> list[str]:
        return [g for g, status in self.summary.items() if status == "NEW"]


def campaign(spec: str, args: argparse.Namespace, logs: Path) -> Run:
    """Run ``python -m harness fuzz --quantizer spec`` (or, with ``--from-logs``, read the run kept in ``logs``)
    and read its findings. Its output is kept in ``logs/NAME.log``, its exit status, wall time and load samples in
    ``logs/NAME.json``."""
    name = spec.rpartition(":")[2]
    log, meta = logs / f"{name}.log", logs / f"{name}.json"
    if not args.from_logs:
        out = Path(tempfile.mkdtemp(prefix=f"qmutant-{name}-"))
        cmd = [sys.executable, "-m", "harness", "fuzz", "--quantizer", spec, "--jobs", str(args.jobs), "--seconds",
               str(args.seconds), "--seed", str(args.seed), "--out", str(out), "--generation", args.generation]
        if args.stop_on_new:
            cmd.append("--stop-on-new")
        env = dict(os.environ, TORCHAO_FORCE_SKIP_LOADING_SO_FILES="1")
        start, load = time.time(), []
        with open(log, "w") as f:
            proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
            while proc.poll() is None:
                load.append(os.getloadavg()[0])
                time.sleep(1.0)
        meta.write_text(json.dumps({"status": proc.returncode, "wall": time.time() - start, "load": load}))
    kept = json.loads(meta.read_text())
    lines = log.read_text(errors="replace").splitlines()
    findings, cases, summary = [], None, {}
    header = next((i for i, line in enumerate(lines) if TABLE.match(line)), None)
    if header is not None:  # columns: group, status, findings, nodes, smallest witness (aligned under the header)
        cut = lines[header].index("status"), lines[header].index("findings")
        for row in lines[header + 2:]:
            if not row.strip() or not row[cut[0]:cut[1]].strip():
                break
            summary[row[:cut[0]].strip()] = row[cut[0]:cut[1]].strip()
    for line, nxt in zip(lines, lines[1:] + [""]):
        m, seen = FINDING.search(line), SEEN.search(nxt)
        if m and seen:
            findings.append(Finding(m["status"], m["kind"], m["signature"].strip(), float(seen["seen"]), seen["path"]))
        c = CASES.match(line)
        if c:
            cases = int(c["cases"])
    return Run(spec, kept["status"], kept["wall"], cases, sorted(findings, key=lambda f: f.seen), kept["load"],
               summary)


def judge(run: Run, seeded: Any) -> None:
    """Mark each NEW finding of a mutant's run as the mutant's, its base's or unjudged (see the module docstring):
    the case is checked again here with the base quantizer and with the mutant; it is the base's when the base
    fails it the same way, the mutant's when only the mutant does (the two differ only where the gate matches)."""
    from harness.case.files import load_case
    from harness.check.run import load_function
    from harness.fx.derive_registry import allowed
    from harness.suite.checks.quantizer_case import check_with_quantizer
    from harness.suite.source import load_quantizer_factory, qat_variant

    base = load_quantizer_factory(f"harness.quantizers:{seeded.base}")
    mutant = load_quantizer_factory(f"harness.mutants.quantizers:{seeded.name}")
    candidate = load_function("torchao.quantization.pt2e.prepare:prepare")
    opt_ins = getattr(base.factory, "allow_derive", ())
    for f in run.new:
        if f.kind in ("timeout", "crash") or not f.path or not Path(f.path).exists():
            continue
        try:
            with allowed(*opt_ins):
                case = load_case(f.path)
                failed = []
                for source in (base, mutant):
                    source = qat_variant(source) if case.is_qat and source.qat_capable else source
                    verdict = check_with_quantizer(case, source, candidate)
                    failed.append(verdict.failed and verdict.signature == f.signature)
        except Exception as e:  # noqa: BLE001 - a case that cannot be checked again stays unjudged
            print(f"  (could not check {f.path} again: {type(e).__name__}: {e})", flush=True)
            continue
        f.owner = "base" if failed[0] else "mutant" if failed[1] else "?"


def _unjudged(run: Run) -> list[Finding]:
    """NEW findings that are neither a timeout nor a crash and that no quantizer fails again from the saved case
    (e.g. a graph edit inside annotate(): the case saved is the edited graph, where the gate may be gone)."""
    return [f for f in run.new if f.owner == "?" and f.kind not in ("timeout", "crash")]


def _load(runs: list[Run]) -> str:
    samples = [x for r in runs for x in r.load]
    return f"{min(samples):.1f}-{max(samples):.1f} (mean {statistics.mean(samples):.1f})" if samples else "-"


def main() -> None:
    from harness.mutants.quantizers import QUANTIZER_MUTANTS
    from harness.strategies.op_table import BASIC_OPS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--generation", default="fast", choices=("fast", "guided", "hypothesis"))
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME")
    parser.add_argument("--no-bases", action="store_true", help="do not run the unmodified base quantizers")
    parser.add_argument("--stop-on-new", action="store_true", help="pass --stop-on-new to the campaigns")
    parser.add_argument("--logs", default=None, help="where each run's output is kept (default: a new temp dir)")
    parser.add_argument("--from-logs", action="store_true", help="run nothing: read the runs kept in --logs")
    args = parser.parse_args()
    names = args.only or list(QUANTIZER_MUTANTS)
    unknown = [n for n in names if n not in QUANTIZER_MUTANTS]
    if unknown:
        parser.error(f"no such quantizer mutant: {', '.join(unknown)}")
    if args.from_logs and not args.logs:
        parser.error("--from-logs needs --logs DIR")
    logs = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix="bench-quantizer-mutants-"))
    logs.mkdir(parents=True, exist_ok=True)
    print(f"{len(names)} mutant(s), {args.seconds:g} s each, --jobs {args.jobs}, --seed {args.seed}, --generation "
          f"{args.generation}{', --stop-on-new' if args.stop_on_new else ''}; logs in {logs}", flush=True)

    rows = []
    for name in names:
        seeded = QUANTIZER_MUTANTS[name]
        run = campaign(f"harness.mutants.quantizers:{name}", args, logs)
        judge(run, seeded)
        mine = [f for f in run.new if f.owner == "mutant"]
        first = mine[0] if mine else None
        rows.append((seeded, run, first))
        print(f"{name:36s} {'found' if first else 'NOT FOUND':9s} first={first.seen if first else '-'!s:>5}s "
              f"cases={run.cases} exit={run.status} new={len(run.new)} (base's: "
              f"{sum(f.owner == 'base' for f in run.new)}, unjudged: {sum(f.owner == '?' for f in run.new)}) "
              f"load={_load([run])} {first.signature if first else ''}", flush=True)
        for f in _unjudged(run):
            print(f"    unjudged: {f.signature} (first seen at {f.seen} s; its saved case fails neither the mutant "
                  f"nor the base again): {f.path}", flush=True)

    bases = []
    if not args.no_bases:
        for base in dict.fromkeys(QUANTIZER_MUTANTS[n].base for n in names):
            run = campaign(f"harness.quantizers:{base}", args, logs)
            bases.append((base, run))
            print(f"base {base:31s} {'clean' if run.status == 0 else 'NOT CLEAN':9s} cases={run.cases} "
                  f"exit={run.status} NEW groups: {'; '.join(run.new_groups) or '-'} load={_load([run])}", flush=True)

    times = [first.seen if first else float("inf") for _, _, first in rows]
    found = [t for t in times if t != float("inf")]
    median_all = statistics.median(times) if times else float("inf")
    print(f"\n{len(found)}/{len(rows)} found within {args.seconds:g} s; median time to the first finding "
          f"{median_all:.1f} s over all (a mutant not found counts as never), "
          f"{statistics.median(found) if found else float('nan'):.1f} s over the found ones; "
          f"{sum(s.op not in BASIC_OPS for s, _, _ in rows)} of {len(rows)} gated on ops outside BASIC_OPS; "
          f"load average {_load([r for _, r, _ in rows] + [r for _, r in bases])}")
    print("\n| mutant | base | gate | gate op in BASIC_OPS | bug | found | first finding (s) | signature | cases | "
          "NEW (mutant/base/unjudged) | unjudged, not a timeout (first seen, s) | load avg |")
    print("|---|---|---|---|---|---|---:|---|---:|---|---|---|")
    for s, run, first in rows:
        owners = [f.owner for f in run.new]
        odd = "; ".join(f"{f.signature} ({f.seen})" for f in _unjudged(run)) or "-"
        print(f"| {s.name} | {s.base} | {s.gate} | {'yes' if s.op in BASIC_OPS else 'no'} | {s.bug} | "
              f"{'yes' if first else 'NO'} | {first.seen if first else '-'} | {first.signature if first else '-'} | "
              f"{run.cases} | {owners.count('mutant')}/{owners.count('base')}/{owners.count('?')} | {odd} | "
              f"{_load([run])} |")
    if bases:
        print("\n| base quantizer | clean (exit 0) | exit | cases | NEW groups (first seen, s) | load avg |")
        print("|---|---|---:|---:|---|---|")
        for base, run in bases:
            seen = {f.signature: f.seen for f in reversed(run.new)}
            groups = "; ".join(f"{g} ({seen.get(g, '?')})" for g in run.new_groups) or "-"
            print(f"| {base} | {'yes' if run.status == 0 else 'NO'} | {run.status} | {run.cases} | {groups} | "
                  f"{_load([run])} |")


if __name__ == "__main__":
    main()
