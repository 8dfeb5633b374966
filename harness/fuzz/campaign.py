"""The fuzz campaign (``python -m harness fuzz``): random cases until time runs out, every finding shrunk and saved.

The campaign runs rounds of hypothesis (:mod:`harness.strategies`), each round a few dozen cases checked by
:func:`harness.check.run.check_case`. The first case of a round that fails in a way not seen before in this
run becomes the round's target: it is written at once to ``OUT/pending/`` (a finding is never lost, even if the
run is killed while shrinking), hypothesis shrinks it (only cases that fail with the same signature count, so
shrinking never slips to another bug), and the shrunk case is written to ``OUT/`` as a corpus case before it is
reported; the pending file is then removed. Findings that a known upstream bug explains
(:mod:`harness.check.known_bugs`) are reported as known; they make the exit status 1 only with ``--strict``.

Several jobs run in separate processes (``spawn``), each with its own seed, writing into the same directory:
corpus files are written atomically and named by content.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import random
import sys
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Optional

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class CampaignConfig:
    candidate: str = "torchao.quantization.pt2e.prepare:prepare"
    seconds: float = 60.0
    seed: Optional[int] = None
    jobs: int = 1
    out: str = "fuzz-findings"
    strict: bool = False
    mode: str = "mixed"  # valid | adversarial | mixed
    max_nodes: int = 10
    round_size: int = 30
    numerics: bool = False
    float_semantics: bool = False  # run the float-semantics invariant (runs both models: slower)
    shrink_seconds: float = 30.0  # after the deadline, a round still shrinking gets this long to finish
    quiet: bool = False
    stop_on_new: bool = False  # end the run once a new (not known) finding is written


@dataclass(frozen=True)
class Finding:
    signature: str
    known_id: Optional[str]
    known_title: Optional[str]
    link: Optional[str]
    path: str
    summary: str
    nodes: int
    detected: float  # seconds since the start of the campaign when the first failing case was seen
    seconds: float  # seconds since the start of the campaign when the shrunk case was written

    @property
    def is_new(self) -> bool:
        return self.known_id is None


# ---- one worker --------------------------------------------------------------------------------------------


def case_strategy(mode: str, max_nodes: int):
    from hypothesis import strategies as st

    from harness import strategies

    valid = strategies.cases(mode="valid", max_nodes=max_nodes)
    if mode == "valid":
        return valid
    adversarial = strategies.cases(mode="adversarial", max_nodes=max_nodes)
    if mode == "adversarial":
        return adversarial
    return st.one_of(valid, valid, valid, adversarial)


class _Found(Exception):
    """Raised inside a hypothesis round to make it shrink the current target."""


def _finding_case(report, started: float):
    from harness.case import Info
    from harness.check.run import reference_expectation

    known = report.known
    upstream = "crashes" if report.candidate.error is not None else "wrong"
    info = Info(
        title=known.id if known is not None else report.signature,
        kind="finding",
        link=known.link if known is not None else "",
        notes=report.summary(),
        upstream=upstream,
        tags=tuple(t for t in ("finding", known.id if known is not None else None, report.signature) if t),
    )
    return replace(report.case, expected=reference_expectation(report), info=info)


def run_worker(config: CampaignConfig, worker_seed: int, started: float, emit: Callable[[tuple], None]) -> None:
    """Fuzz for ``config.seconds`` once ready, calling ``emit`` with progress and findings.

    ``started`` is when the campaign started (times in findings are relative to it).
    """
    from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings

    from harness.case.files import save_case
    from harness.check.run import check_case, load_function

    candidate = load_function(config.candidate)
    strategy = case_strategy(config.mode, config.max_nodes)
    # the budget is fuzzing time: it starts once this worker has imported torch and friends
    deadline = time.time() + config.seconds
    hard_deadline = deadline + config.shrink_seconds
    out = Path(config.out)
    seen: set[str] = set()
    rng = random.Random(worker_seed)
    last_tick = [time.time(), 0]

    def tick(force: bool = False) -> None:
        now = time.time()
        if force or now - last_tick[0] >= 1.0:
            emit(("tick", last_tick[1]))
            last_tick[0], last_tick[1] = now, 0

    while time.time() < deadline:
        state: dict = {"target": None, "best": None, "pending": None, "detected": None}

        @settings(
            max_examples=config.round_size,
            database=None,
            deadline=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,
            print_blob=False,
        )
        @seed(rng.getrandbits(64))
        @given(strategy)
        def round_(case) -> None:
            now = time.time()
            if now > hard_deadline or (state["target"] is None and now > deadline):
                return
            report = check_case(case, candidate, numerics=config.numerics, float_semantics=config.float_semantics)
            last_tick[1] += 1
            tick()
            if not report.failed or report.signature in seen:
                return
            if state["target"] is None:
                state["target"] = report.signature
                state["detected"] = round(time.time() - started, 1)
                state["pending"] = save_case(_finding_case(report, started), out / "pending")
            if report.signature != state["target"]:
                return
            state["best"] = report
            raise _Found(report.signature)

        try:
            round_()
        except _Found:
            pass
        except Exception:  # noqa: BLE001 - hypothesis trouble (unsatisfiable round, ...) must not end the run
            emit(("warning", traceback.format_exc(limit=3)))
        report = state["best"]
        if report is not None:
            seen.add(report.signature)
            path = save_case(_finding_case(report, started), out)
            if state["pending"] is not None and Path(state["pending"]) != path:
                Path(state["pending"]).unlink(missing_ok=True)
            known = report.known
            emit(("finding", asdict(Finding(
                signature=report.signature,
                known_id=known.id if known is not None else None,
                known_title=known.title if known is not None else None,
                link=known.link if known is not None else None,
                path=str(path),
                summary=report.summary(),
                nodes=len(report.case.graph.nodes),
                detected=state["detected"],
                seconds=round(time.time() - started, 1),
            ))))
            if config.stop_on_new and known is None:
                break
    tick(force=True)


def _worker_entry(config: CampaignConfig, worker_seed: int, started: float, q) -> None:
    os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")
    try:
        run_worker(config, worker_seed, started, q.put)
    except BaseException:  # noqa: BLE001 - report, never hang the parent
        q.put(("error", traceback.format_exc()))
    finally:
        q.put(("done", None))


# ---- the campaign -----------------------------------------------------------------------------------------


@dataclass
class CampaignResult:
    cases: int
    seconds: float
    findings: list[Finding]

    def new(self) -> list[Finding]:
        return [f for f in self.findings if f.is_new]

    def known(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_new]


def run_campaign(config: CampaignConfig, out=sys.stdout) -> CampaignResult:
    """Run the campaign; prints progress and findings to ``out`` as they come."""
    started = time.time()
    base_seed = config.seed if config.seed is not None else random.SystemRandom().getrandbits(32)
    Path(config.out).mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if config.quiet else (lambda text: print(text, file=out, flush=True))
    say(f"fuzzing {config.candidate} against the reference for {config.seconds:g} s "
        f"(seed {base_seed}, {config.jobs} job(s), mode {config.mode}), findings -> {config.out}")

    findings: list[Finding] = []
    cases = 0
    errors: list[str] = []

    def handle(event: tuple) -> None:
        nonlocal cases
        kind, payload = event
        if kind == "tick":
            cases += payload
        elif kind == "finding":
            f = Finding(**payload)
            if any(g.signature == f.signature for g in findings):
                return
            findings.append(f)
            label = f"known upstream bug {f.known_id}" if f.known_id else "NEW"
            say(f"\n[{f.seconds:6.1f}s] finding ({label}): {f.signature}\n  first seen at {f.detected:.1f}s, shrunk to "
                f"{f.nodes} nodes, written to {f.path}\n  "
                + f.summary.replace("\n", "\n  "))
        elif kind == "error":
            errors.append(payload)
            say(f"worker error:\n{payload}")
        elif kind == "warning" and not config.quiet:
            pass

    last_progress = [0.0]

    def progress(force: bool = False) -> None:
        now = time.time()
        if config.quiet or (not force and now - last_progress[0] < 5.0):
            return
        last_progress[0] = now
        elapsed = now - started
        new = sum(f.is_new for f in findings)
        say(f"[{elapsed:6.1f}s] {cases} cases, {cases / max(elapsed, 1e-9):.1f} cases/s, "
            f"findings: {new} new, {len(findings) - new} known")

    if config.jobs <= 1:
        def emit(event):
            handle(event)
            progress()
        run_worker(config, base_seed, started, emit)
    else:
        ctx = multiprocessing.get_context("spawn")
        q = ctx.Queue()
        procs = [ctx.Process(target=_worker_entry, args=(config, base_seed + i, started, q), daemon=True)
                 for i in range(config.jobs)]
        for p in procs:
            p.start()
        running = len(procs)
        limit = started + config.seconds + config.shrink_seconds + 180  # + start-up of the workers
        while running and time.time() < limit:
            try:
                event = q.get(timeout=1.0)
            except queue_module.Empty:
                progress()
                continue
            if event[0] == "done":
                running -= 1
            else:
                handle(event)
            progress()
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    progress(force=True)
    result = CampaignResult(cases, time.time() - started, findings)
    say(summary_table(result, config))
    return result


def summary_table(result: CampaignResult, config: CampaignConfig) -> str:
    rows = [("class", "status", "nodes", "case file")]
    for f in sorted(result.findings, key=lambda f: (f.known_id is not None, f.signature)):
        status = f"known ({f.known_id})" if f.known_id else "NEW"
        rows.append((f.signature[:60], status, str(f.nodes), f.path))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"\n{result.cases} cases in {result.seconds:.1f} s ({result.cases / max(result.seconds, 1e-9):.1f}/s); "
             f"{len(result.new())} new finding(s), {len(result.known())} known"]
    if result.findings:
        for i, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def exit_status(result: CampaignResult, config: CampaignConfig) -> int:
    if result.new() or (config.strict and result.findings):
        return EXIT_FOUND
    return EXIT_OK
