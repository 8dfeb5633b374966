"""The ``fuzz`` command line: options -> :class:`CampaignConfig`, the engine chosen, the campaign run.

Kept free of torch: the driver only parses, loads case files and writes findings; the workers (local processes
or Ray actors) import torch and the candidate.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys

from harness.fuzz.launch import run_campaign
from harness.fuzz.config import EXIT_USAGE, CampaignConfig, exit_status

# the quantizer suite's random-graph checks as the campaign's target (a higher layer: named, resolved by the workers)
QUANTIZER_TARGET = "harness.suite.fuzz_target:quantizer_target"
QUANTIZER_CASE_TIMEOUT = 60.0  # --case-timeout of a quantizer campaign (see its --help)
QUANTIZER_CASE_FLOOR = 20.0  # ... cut to a third of --seconds, never below this: a sound quantizer's first QAT case
# in a fresh worker (its pattern exports, dynamo's warm-up) takes seconds, more on a loaded machine

EPILOG = """exit status:
  0    nothing new: only known upstream bugs (torchao, run on the same case, fails the same way) and unjudged
       findings (listed loudly in the summary; they are not established failures of the candidate)
  1    a NEW finding: a failure only the candidate has (a divergence torchao does not share, a crash, a
       timeout that a re-run reproduced), also a replayed case that still fails that way; with --strict, any
       finding at all
  2    usage error
  3    the harness itself failed (its own errors, among them a finding it could not write as a case, kept raw
       in OUT/raw/; or no case checked): the results are incomplete
  130  interrupted (Ctrl-C); the summary so far is printed and every finding is on disk

An unjudged finding is a case where the candidate does what torchao does and the reference does not
(REFERENCE?: a suspected bug of the reference), where torchao crashes on annotations the reference rejects with
a typed error (UPSTREAM?: an upstream bug no known bug names yet), or a timeout that a fresh worker, re-running the
case, did not reproduce (TIMEOUT?: a busy machine, or a rare hang). Please report them with the case file.

Before the search, the cases already in --out (and under each --replay folder) are replayed: each is reported
"still failing" or "fixed"; a fixed finding in --out is moved to --out/fixed/, never deleted.

--quantizer MODULE:NAME fuzzes a quantizer instead (a Quantizer class, a factory or an instance, as the pytest
plugin's --pt2e-quantizer): each case is a random graph, exported like a program; the quantizer annotates it (a
raise is a finding, a hang a `timeout` finding), the annotations must be well formed, and the reference and the
prepare under test (--candidate, default torchao's) must agree on them with the invariants holding. --mode does
not apply; the findings are the graphs with the quantizer's annotations.

--engine ray runs the workers as Ray actors: --address auto|HOST:PORT|ray://HOST:10001 joins a running cluster
(every node needs this project installed), no --address starts a local Ray instance. Findings travel to this
process as data and are written here; the summary shows the cases checked on each node."""


def fuzz_parser() -> argparse.ArgumentParser:
    d = CampaignConfig()
    p = argparse.ArgumentParser(prog="python -m harness fuzz", description="Fuzz a prepare (or a quantizer) against the reference.",
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    p.add_argument("--candidate", default=d.candidate, metavar="MODULE:FUNCTION",
                   help=f"the prepare under test, with torchao's prepare signature (default {d.candidate})")
    p.add_argument("--quantizer", default=None, metavar="MODULE:NAME",
                   help="fuzz this quantizer: the plugin's random-graph checks (annotate, well-formedness, "
                        "differential prepare with --candidate, invariants), e.g. harness.quantizers:xnnpack")
    p.add_argument("--seconds", type=float, default=d.seconds,
                   help="wall-clock budget of the whole run, start-up and shrinking included (default 60); the run "
                        "ends within SECONDS * 1.1 + 5")
    p.add_argument("--case-timeout", type=float, default=None, metavar="S",
                   help=f"time limit of one case; a case over it is a `timeout` finding (default {d.case_timeout:g}; "
                        f"with --quantizer {QUANTIZER_CASE_TIMEOUT:g}: a real quantizer's annotate and torchao's QAT "
                        "conv-bn rewrite export patterns, seconds of CPU on a graph with a batch norm; either cut "
                        f"to a third of --seconds, not below 2 s or, with --quantizer, {QUANTIZER_CASE_FLOOR:g} s, "
                        "so that a case that hangs is found within the budget)")
    p.add_argument("--seed", type=int, default=None, help="seed of the run (default: random, printed)")
    p.add_argument("--jobs", type=int, default=None,
                   help="workers (default: 1 with --engine local, the cluster's CPUs with --engine ray)")
    p.add_argument("--engine", choices=("local", "ray"), default=d.engine,
                   help="where the workers run: local processes (default) or a Ray cluster (pip install -e '.[ray]')")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="with --engine ray: the cluster (auto, HOST:PORT or ray://HOST:10001); default a local Ray")
    p.add_argument("--replay", action="append", default=[], metavar="DIR",
                   help="also replay the saved cases under DIR before the search (repeatable), e.g. corpus/")
    p.add_argument("--out", default=d.out, help=f"directory the findings are written to (default {d.out})")
    p.add_argument("--strict", action="store_true", help="any finding makes the exit status 1: known upstream bugs and unjudged "
                        "disagreements with torchao too (the harness's own long campaigns use it)")
    p.add_argument("--mode", choices=("valid", "adversarial", "mixed"), default=d.mode,
                   help="valid annotations, adversarial ones, or both (default mixed)")
    p.add_argument("--generation", choices=("fast", "hypothesis", "guided"), default=d.generation,
                   help="how cases are drawn: fast (default: our strategies drawn from a seeded random source, "
                        "failures shrunk by the greedy case reducer; several times cheaper a case), hypothesis "
                        "(its engine draws and shrinks) or guided (with --quantizer: cases that reach new lines of "
                        "the quantizer's package are kept and mutated, a uniform share stays; else as fast)")
    p.add_argument("--max-nodes", type=int, default=d.max_nodes, help="largest generated graph (operator nodes)")
    p.add_argument("--numerics", action="store_true",
                   help="also calibrate, convert_pt2e and compare outputs when the canonical forms agree")
    p.add_argument("--float-semantics", action="store_true",
                   help="also check that the prepared model computes the original's float outputs (slower)")
    p.add_argument("--stop-on-new", action="store_true",
                   help="stop at the first new finding (once the saved cases are all replayed)")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    return p


def candidate_problem(spec: str) -> str:
    """What is wrong with ``MODULE:FUNCTION`` that can be told without importing it (the workers import it, and
    report a missing function as a usage error): keeps the driver's start-up light."""
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        return f"{spec!r}: expected MODULE:FUNCTION"
    try:
        found = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError) as e:
        return f"{spec!r}: cannot import {module!r}: {e}"
    return "" if found is not None else f"{spec!r}: cannot import {module!r}: no module named {module.split('.')[0]!r}"


def _ray_engine(args, case_timeout: float):
    """Join (or start) the Ray cluster: the engine and the number of jobs; a usage error as a string."""
    try:
        from harness.fuzz import ray_engine  # the optional extra, imported only when asked for
    except ImportError as e:
        return None, 0, f"--engine ray needs Ray: pip install -e '.[ray]' ({e})"
    try:
        cpus = ray_engine.connect(args.address, args.jobs)
    except Exception as e:  # noqa: BLE001 - whatever Ray says about the address, in its words
        return None, 0, f"--address {args.address}: cannot join the Ray cluster: {type(e).__name__}: {e}"
    return ray_engine.RayEngine(case_timeout), args.jobs or cpus, ""


def main_fuzz(argv: list[str], started: float) -> int:
    args = fuzz_parser().parse_args(argv)
    if args.case_timeout is None:  # at most a third of the budget (a hang is a finding within it), not under a floor
        default, floor = ((QUANTIZER_CASE_TIMEOUT, QUANTIZER_CASE_FLOOR) if args.quantizer
                          else (CampaignConfig.case_timeout, 2.0))
        args.case_timeout = min(default, max(args.seconds / 3, floor))
    if (args.seconds <= 0 or (args.jobs is not None and args.jobs < 1) or args.max_nodes < 1
            or args.case_timeout <= 0):
        print("--seconds, --jobs, --max-nodes and --case-timeout must be positive", file=sys.stderr)
        return EXIT_USAGE
    if args.address is not None and args.engine != "ray":
        print("--address goes with --engine ray", file=sys.stderr)
        return EXIT_USAGE
    problem = candidate_problem(args.candidate)
    if problem:
        print(f"--candidate: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.quantizer is not None:
        problem = candidate_problem(args.quantizer)
        if problem:
            print(f"--quantizer: {problem.replace('MODULE:FUNCTION', 'MODULE:NAME')}", file=sys.stderr)
            return EXIT_USAGE
    engine, jobs = None, args.jobs or 1
    if args.engine == "ray":
        engine, jobs, problem = _ray_engine(args, args.case_timeout)
        if problem:
            print(problem, file=sys.stderr)
            return EXIT_USAGE
    config = CampaignConfig(candidate=args.candidate, seconds=args.seconds, seed=args.seed, jobs=jobs,
                            out=args.out, strict=args.strict, mode=args.mode, max_nodes=args.max_nodes,
                            numerics=args.numerics, float_semantics=args.float_semantics, stop_on_new=args.stop_on_new,
                            quiet=args.quiet, case_timeout=args.case_timeout, engine=args.engine,
                            address=args.address, replay=tuple(args.replay),
                            target=QUANTIZER_TARGET if args.quantizer else CampaignConfig.target,
                            quantizer=args.quantizer, generation=args.generation)
    if args.quantizer and not args.quiet:
        print(f"quantizer campaign: {args.quantizer} annotates random graphs; its annotations must be well formed and "
              f"prepared alike by the reference and {args.candidate}")
    result = run_campaign(config, engine=engine, started=started)
    return exit_status(result, config)
