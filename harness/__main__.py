"""Command line: ``python -m harness fuzz | repro | show``.

    python -m harness fuzz [--candidate MODULE:FUNCTION] [--seconds N] [--seed N] [--jobs N] [--out DIR]
                           [--strict] [--mode valid|adversarial|mixed] [--max-nodes N] [--numerics]
                           [--case-timeout S]
    python -m harness repro CASE        print a standalone torch/torchao script reproducing CASE upstream
    python -m harness show CASE [--svg OUT]   the graph of CASE with its sharing groups
    python -m harness report DIR [-o OUT]     one self-contained HTML page about the cases under DIR
    python -m harness scenarios [--check]     write (or check) corpus/ from the scenarios in harness.corpus

Exit status of ``fuzz``:
    0    nothing new: no finding, or only known upstream bugs (a failure is known only when torchao, run on the
         same case, fails the same way)
    1    a new finding: a divergence only the candidate has, a crash, a timeout, or a case where the candidate
         agrees with torchao and the reference does not (a suspected bug of ours); with --strict, any finding
    2    usage error (bad flag, a candidate that cannot be loaded)
    3    the harness failed (an error of the harness itself, or no case was checked): the results are incomplete
    130  interrupted (Ctrl-C): the summary so far is printed, every finding is on disk
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

STARTED = time.time()  # the fuzz budget counts from here: start-up is part of it

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")


def _fuzz_parser() -> argparse.ArgumentParser:
    from harness.fuzz.campaign import CampaignConfig

    d = CampaignConfig()
    p = argparse.ArgumentParser(
        prog="python -m harness fuzz", description="Fuzz a prepare against the reference.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status: 0 nothing new (only known upstream bugs, known by reproduction on torchao); 1 a new "
               "finding\n(a divergence only the candidate has, a crash, a timeout, or the reference disagreeing with "
               "torchao);\n2 usage error; 3 the harness failed (its own errors, or no case checked); 130 interrupted "
               "(Ctrl-C).")
    p.add_argument("--candidate", default=d.candidate, metavar="MODULE:FUNCTION",
                   help=f"the prepare under test, with torchao's prepare signature (default {d.candidate})")
    p.add_argument("--seconds", type=float, default=d.seconds,
                   help="wall-clock budget of the whole run, start-up and shrinking included (default 60); the run "
                        "ends within SECONDS * 1.1 + 5")
    p.add_argument("--case-timeout", type=float, default=d.case_timeout, metavar="S",
                   help=f"time limit of one case; a case over it is a `timeout` finding (default {d.case_timeout:g})")
    p.add_argument("--seed", type=int, default=None, help="seed of the run (default: random, printed)")
    p.add_argument("--jobs", type=int, default=d.jobs, help="worker processes (default 1)")
    p.add_argument("--out", default=d.out, help=f"directory the findings are written to (default {d.out})")
    p.add_argument("--strict", action="store_true", help="known upstream bugs also make the exit status 1")
    p.add_argument("--mode", choices=("valid", "adversarial", "mixed"), default=d.mode,
                   help="valid annotations, adversarial ones, or both (default mixed)")
    p.add_argument("--max-nodes", type=int, default=d.max_nodes, help="largest generated graph (operator nodes)")
    p.add_argument("--numerics", action="store_true",
                   help="also calibrate, convert_pt2e and compare outputs when the canonical forms agree")
    p.add_argument("--float-semantics", action="store_true",
                   help="also check that the prepared model computes the original's float outputs (slower)")
    p.add_argument("--stop-on-new", action="store_true", help="stop at the first new finding")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    return p


def _candidate_problem(spec: str) -> str:
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


def main_fuzz(argv: list[str]) -> int:
    from harness.fuzz.campaign import EXIT_USAGE, CampaignConfig, exit_status, run_campaign

    args = _fuzz_parser().parse_args(argv)
    if args.seconds <= 0 or args.jobs < 1 or args.max_nodes < 1 or args.case_timeout <= 0:
        print("--seconds, --jobs, --max-nodes and --case-timeout must be positive", file=sys.stderr)
        return EXIT_USAGE
    problem = _candidate_problem(args.candidate)
    if problem:
        print(f"--candidate: {problem}", file=sys.stderr)
        return EXIT_USAGE
    config = CampaignConfig(candidate=args.candidate, seconds=args.seconds, seed=args.seed, jobs=args.jobs,
                            out=args.out, strict=args.strict, mode=args.mode, max_nodes=args.max_nodes,
                            numerics=args.numerics, float_semantics=args.float_semantics, stop_on_new=args.stop_on_new,
                            quiet=args.quiet, case_timeout=args.case_timeout)
    result = run_campaign(config, started=STARTED)
    return exit_status(result, config)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"fuzz": main_fuzz}
    try:
        from harness.tools.repro import main_repro

        commands["repro"] = main_repro
    except ImportError:
        pass
    try:
        from harness.tools.show import main_show

        commands["show"] = main_show
    except ImportError:
        pass
    try:
        from harness.tools.report import main_report

        commands["report"] = main_report
    except ImportError:
        pass
    from harness.corpus.scenarios import main as main_scenarios

    commands["scenarios"] = main_scenarios
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__, file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    try:
        return commands[argv[0]](argv[1:])
    except SystemExit as e:  # argparse: usage errors exit 2
        return int(e.code) if isinstance(e.code, int) else 2


if __name__ == "__main__":
    sys.exit(main())
