"""Line and branch coverage of torchao's ``prepare`` (``torchao/quantization/pt2e/prepare.py``) reached by the
campaign's generated cases.

    python benchmarks/coverage_torchao_prepare.py [--seconds 60] [--seed 0] [--mode mixed] [--max-nodes 10]
    python benchmarks/coverage_torchao_prepare.py --examples 400 --derandomize

Cases come from the fuzz campaign's case strategy (``case_strategy(mode, max_nodes)`` of ``harness.fuzz``, else
``harness.strategies.cases``) and each one goes through ``harness.check.run.check_case`` with torchao's
``prepare`` as the candidate, for ``--seconds`` of wall clock (rounds of hypothesis, generation only) or for a
fixed number of ``--examples``, under coverage.py with branch measurement restricted to that one file. It prints
the line and branch coverage and the lines and branches missed. The README section "Coverage of torchao's
prepare" lists the lines no annotation can reach and why. :func:`measure` is what the coverage test calls. The
campaign itself is measured with ``coverage run -m harness fuzz`` (same README section; pyproject.toml's
``[tool.coverage.run]``, which this script does not read).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import coverage  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as hseed  # noqa: E402

from harness import strategies  # noqa: E402
from harness.check.run import check_case, upstream_prepare  # noqa: E402

PREPARE_MODULE = "torchao.quantization.pt2e.prepare"


def prepare_path() -> str:
    """The file of torchao's prepare."""
    return str(Path(importlib.import_module(PREPARE_MODULE).__file__).resolve())


@dataclass
class Result:
    """Coverage of torchao's prepare after ``cases`` checked cases."""

    cases: int
    failures: int
    errors: int
    statements: int
    missed_lines: list[int]
    branches: int
    missed_branches: list[tuple[int, int]]
    seconds: float
    executed_lines: set[int] = field(default_factory=set)
    taken_branches: set[tuple[int, int]] = field(default_factory=set)

    @property
    def line_percent(self) -> float:
        return 100.0 * (self.statements - len(self.missed_lines)) / max(self.statements, 1)

    @property
    def branch_percent(self) -> float:
        return 100.0 * (self.branches - len(self.missed_branches)) / max(self.branches, 1)

    @property
    def percent(self) -> float:
        """coverage.py's combined figure: (hit lines + taken branches) / (lines + branches)."""
        hit = self.statements - len(self.missed_lines) + self.branches - len(self.missed_branches)
        return 100.0 * hit / max(self.statements + self.branches, 1)


def _strategy(mode: str, max_nodes: int):
    """The campaign's case strategy, wherever the fuzz package keeps it today."""
    for module in ("harness.fuzz.campaign", "harness.fuzz.worker"):
        try:
            make = getattr(importlib.import_module(module), "case_strategy", None)
        except ImportError:  # the fuzz package is being reorganised: fall back on the strategies
            make = None
        if make is not None:
            return make(mode, max_nodes)
    return strategies.cases(mode=mode if mode != "mixed" else "valid", max_nodes=max_nodes)


def _run_cases(strategy, seconds: float, examples: int, seed: int, derandomize: bool) -> tuple[int, int, int]:
    """Check cases of ``strategy`` against torchao until the budget is spent: (cases, failures, errors)."""
    candidate = upstream_prepare()
    counts = {"cases": 0, "failures": 0, "errors": 0}
    deadline = time.monotonic() + seconds if seconds else None
    remaining = examples

    def one(case) -> None:
        if deadline is not None and time.monotonic() > deadline:
            return
        counts["cases"] += 1
        try:
            report = check_case(case, candidate)
        except Exception:  # noqa: BLE001 - a harness error on one case must not end the measurement
            counts["errors"] += 1
            return
        counts["failures"] += report.failed

    round_no = 0
    while (deadline is None and remaining > 0) or (deadline is not None and time.monotonic() < deadline):
        n = min(remaining, 10_000) if deadline is None else 50
        test = settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
                        derandomize=derandomize, suppress_health_check=list(HealthCheck))(given(strategy)(one))
        if not derandomize:
            test = hseed(seed + round_no)(test)
        test()
        round_no += 1
        remaining -= n
        if derandomize and deadline is not None:
            break  # a derandomized round always draws the same cases
    return counts["cases"], counts["failures"], counts["errors"]


def measure(seconds: float = 0.0, examples: int = 0, seed: int = 0, mode: str = "mixed", max_nodes: int = 10,
            derandomize: bool = False) -> Result:
    """Run the campaign's cases through ``check_case`` with torchao as candidate, measuring its prepare.py.

    Give ``seconds`` (wall clock, rounds of 50 cases with seeds ``seed``, ``seed + 1``, ...) or ``examples`` (a
    fixed number, one hypothesis run; with ``derandomize`` the same cases every time).
    """
    if not (seconds or examples):
        raise ValueError("give seconds or examples")
    path = prepare_path()
    # config_file=False: pyproject.toml's [tool.coverage.run] is for `coverage run -m harness fuzz` (its
    # multiprocessing patch and SIGTERM handler must not reach the process that calls this)
    cov = coverage.Coverage(branch=True, include=[path], data_file=None, config_file=False)
    cov.start()
    try:
        # the module-level lines (imports, defs) ran before coverage started: count them by running it again
        # (coverage goes by file, so the functions everyone imported before still count)
        importlib.reload(sys.modules[PREPARE_MODULE])
        strategy = _strategy(mode, max_nodes)
        t = time.perf_counter()
        cases, failures, errors = _run_cases(strategy, seconds, examples, seed, derandomize)
        elapsed = time.perf_counter() - t
    finally:
        cov.stop()
    analysis = cov._analyze(path)  # the public API gives lines; branches need the analysis object
    numbers = analysis.numbers
    missed_branches = sorted((a, b) for a, bs in analysis.missing_branch_arcs().items() for b in bs)
    executed = set(analysis.executed)
    taken = {(a, b) for a, b in analysis.arcs_executed if a > 0 and b > 0}
    return Result(cases, failures, errors, numbers.n_statements, sorted(analysis.missing),
                  numbers.n_branches, missed_branches, elapsed, executed, taken)


def _ranges(lines: list[int]) -> str:
    out, start, prev = [], None, None
    for n in lines + [None]:
        if start is not None and (n is None or n != prev + 1):
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if n is not None and start is None:
            start = n
        prev = n
    return ", ".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=0.0, help="wall-clock budget (default 60 without --examples)")
    parser.add_argument("--examples", type=int, default=0, help="a fixed number of cases instead of a time budget")
    parser.add_argument("--derandomize", action="store_true", help="hypothesis derandomized (the same cases each run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", default="mixed", choices=["valid", "adversarial", "mixed"])
    parser.add_argument("--max-nodes", type=int, default=10)
    args = parser.parse_args(argv)
    seconds = args.seconds or (0.0 if args.examples else 60.0)
    r = measure(seconds, args.examples, args.seed, args.mode, args.max_nodes, args.derandomize)
    print(f"{r.cases} cases in {r.seconds:.1f} s ({r.failures} failing, {r.errors} harness errors)")
    print(f"{prepare_path()}")
    print(f"lines    {r.statements - len(r.missed_lines)}/{r.statements} = {r.line_percent:.1f}%")
    print(f"branches {r.branches - len(r.missed_branches)}/{r.branches} = {r.branch_percent:.1f}%")
    print(f"total (coverage.py's figure) {r.percent:.1f}%")
    print(f"missed lines: {_ranges(r.missed_lines) or 'none'}")
    print("missed branches: " + (", ".join(f"{a}->{b if b > 0 else 'exit'}" for a, b in r.missed_branches) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
