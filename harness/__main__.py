"""Command line: ``python -m harness fuzz | repro | show | report | shrink | scenarios`` (docs/campaign.md).

    python -m harness fuzz [--candidate MODULE:FUNCTION | --quantizer MODULE:NAME] [--seconds N] [--seed N]
                           [--jobs N] [--out DIR] [--strict] [--mode valid|adversarial|mixed]
                           [--generation fast|hypothesis] [--max-nodes N] [--numerics] [--float-semantics]
                           [--case-timeout S] [--engine local|ray] [--address ADDR] [--replay DIR]
                           [--stop-on-new] [--quiet]
    python -m harness repro CASE        print a standalone torch/torchao script reproducing CASE upstream
    python -m harness show CASE [--svg OUT]   the graph of CASE with its sharing groups
    python -m harness report DIR [-o OUT]     one self-contained HTML page about the cases under DIR
    python -m harness shrink CASE [--candidate M:F | --quantizer M:F] [--seconds N]
                                              shrink a saved finding further (same failure), saved beside it
    python -m harness scenarios [--check]     write (or check) corpus/ from the scenarios in harness.corpus

Exit status of ``fuzz`` (``python -m harness fuzz --help`` says more):
    0    nothing new: no finding, only known upstream bugs (a failure is known only when torchao, run on the
         same case, fails the same way), or unjudged disagreements with torchao (the candidate does what torchao
         does and the reference does not), which the summary lists loudly
    1    a new finding: a divergence only the candidate has, a crash, a timeout; with --strict, any finding
    2    usage error (bad flag, a candidate that cannot be loaded)
    3    the harness failed (an error of the harness itself, such as a finding it could not write as a case,
         kept raw in OUT/raw/; or no case was checked): the results are incomplete
    130  interrupted (Ctrl-C): the summary so far is printed, every finding is on disk
"""

from __future__ import annotations

import os
import sys
import time

STARTED = time.time()  # run as ``python -m harness``: the fuzz budget counts from here, start-up included

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")


def main_fuzz(argv: list[str], started: float | None = None) -> int:
    from harness.fuzz.cli import main_fuzz as run

    return run(argv, started if started is not None else time.time())


def main_shrink(argv: list[str]) -> int:
    from harness.fuzz.cli_shrink import main_shrink as run  # loads torch: only when asked for

    return run(argv)


def main(argv: list[str] | None = None, started: float | None = None) -> int:
    """Run one command; ``started`` is when a ``fuzz`` budget began (default: now, the call of ``main``)."""
    argv = sys.argv[1:] if argv is None else argv
    started = started if started is not None else time.time()
    commands = {"fuzz": lambda rest: main_fuzz(rest, started), "shrink": main_shrink}
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
    sys.exit(main(started=STARTED))
