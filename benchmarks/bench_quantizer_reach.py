"""How much of a quantizer's own code the quantizer campaign reaches: the six fixed models, uniform random cases and
the guided search (``--generation guided``), per real quantizer that installs.

    python benchmarks/bench_quantizer_reach.py [--seconds 60] [--long 600] [--seed 0] [--no-baseline] [NAME ...]

NAME is a factory of ``harness.quantizers`` (default: torchao's XNNPACK and X86Inductor, ExecuTorch's XNNPACK, Arm
TOSA, QNN, Samsung ENN and Cadence; one that does not install is skipped). For each it prints the lines of its
annotation modules (the ``.py`` files of the package of the quantizer's class, :mod:`harness.fuzz.reach`) reached:

* by the six fixed models of the suite (``harness/suite/subjects/models.py``), each annotated as ``prepare_pt2e``
  does, and as ``prepare_qat_pt2e`` does too for a quantizer with a QAT configuration (as the suite checks them);
* by ``--seconds`` of uniform random cases (the search ``fast``);
* by ``--seconds`` and, with ``--long``, by ``--long`` seconds of the guided search (``guided``);
* for a factory with configuration variants (``configs``, :mod:`harness.suite.source`), by ``--seconds`` of the
  guided search in the default configuration only (``guided, default config``: the campaign before variants, so
  the report says how much of the reach the variants bring; ``--no-baseline`` leaves it out);

with the cases per second and the share of cases the quantizer annotated (at least one annotation), and the
statements of the modules any of them reached: all of them, and those in functions, the denominator of "80% of the
statements" (module and class bodies run once, at import, before any measure; no case can reach them, as
coverage.py would count them reached by the import). The fixed models are
annotated in the default configuration (as the suite checks them); the searches draw a variant with every case,
as the campaign does. The load average is printed with each quantizer (the machine may be shared). The searches run in
a fresh process each (spawned: a quantizer's cached config getters start empty for every measure, as in a
campaign's worker), through the campaign's own search functions and worker session (one worker, start-up not
counted; each case under a 20 s time limit, a case over it counted as an error). ``guided/fixed`` is the issue's
target: at least 1.3x, or 80% of the statements. A finding that is not a known bug is written to
``bench-findings/`` as the campaign writes its findings, and named in the output.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

DEFAULT = ("xnnpack", "x86_inductor", "executorch_xnnpack", "executorch_arm_tosa", "executorch_qnn",
           "executorch_samsung_enn", "executorch_cadence")
CASE_LIMIT = 20.0


def fresh(fn, *args):
    """``fn(*args)`` in a new Python process: each measure starts with the quantizer's caches empty (torchao's and
    ExecuTorch's config getters are ``functools.lru_cache``d: in one process, a measure run after another never
    runs their bodies again and reaches fewer lines), as each worker of a campaign does."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def fixed_models(spec: str, directory: str) -> set[str]:
    """The lines the six models reach, annotated as the suite does: for PTQ, and for QAT too when the quantizer has a
    QAT configuration (the models exported in train mode)."""
    from harness.fuzz.reach import ReachTracer, joining
    from harness.suite.checks.quantizer_run import run_quantizer
    from harness.suite.source import load_quantizer_factory, qat_variant
    from harness.suite.subjects.models import export_model, model_names

    warnings.simplefilter("ignore")
    source, tracer = load_quantizer_factory(spec), ReachTracer(directory)
    reached: set[str] = set()
    for src in (source, qat_variant(source)) if source.qat_capable else (source,):
        for name in model_names():
            try:
                gm = export_model(name, strict=src.export_strict, train=src.is_qat)
            except Exception as e:  # noqa: BLE001 - a model this torch cannot export: said, skipped
                print(f"  (model {name} does not export: {type(e).__name__})")
                continue
            run_quantizer(gm, src, 0, f"model {name}", None, traced=lambda: joining(tracer, reached))
    return reached


def search(config, search_name: str, seconds: float, seed: int, variants: bool = True) -> dict:
    """One worker of the campaign's search ``search_name`` for ``seconds``, in this process: lines, cases, share
    annotated; ``variants=False``: the default configuration only."""
    from harness.common.timelimit import call_with_time_limit
    from harness.fuzz.config import WorkerSpec
    from harness.fuzz.events import FindingEvent, HarnessError, Progress, Reach
    from harness.fuzz.searches import run_search
    from harness.fuzz.session import CaseGuard, Worker
    from harness.suite.fuzz_target import quantizer_target

    warnings.simplefilter("ignore")
    target = quantizer_target(config, variants)
    stats = {"checked": 0, "annotated": 0}

    def check(case):
        verdict = call_with_time_limit(target.check, CASE_LIMIT, case, what="one case")
        stats["checked"] += 1
        stats["annotated"] += bool(verdict.case.annotations)
        return verdict

    events: list = []
    now = time.time()
    spec = WorkerSpec(replace(config, generation=search_name), 0, seed, now, now + seconds, 0.8)
    worker = Worker(spec, replace(target, check=check), events.append, CaseGuard())
    run_search(worker, search_name)
    worker.tick(force=True)
    elapsed = time.time() - now
    lines = {line for e in events if isinstance(e, Reach) for line in e.lines}
    cases = sum(e.cases for e in events if isinstance(e, Progress))
    errors = sorted({e.key for e in events if isinstance(e, HarnessError)})
    for key in errors:
        print(f"  ({search_name}: harness error {key})")
    for triage, signature in sorted({(e.triage, e.signature) for e in events if isinstance(e, FindingEvent)}):
        print(f"  ({search_name}: finding, {triage}: {signature[:150]})")
    _keep_unjudged(events, search_name)
    return {"lines": lines, "cases": cases, "rate": cases / elapsed, "errors": len(errors),
            "annotated": stats["annotated"] / max(stats["checked"], 1)}


FINDINGS = "bench-findings"  # where a run's findings that are not known bugs are written (never lost)


def _keep_unjudged(events: list, search_name: str) -> None:
    """Write the last case of each finding that is not a known bug (new, unjudged, refused...) under
    :data:`FINDINGS` as the campaign keeps its findings (:func:`harness.fuzz.finding_files.keep`: a case file, else
    the event raw) and say where: a question the benchmark raised must be answerable."""
    from pathlib import Path

    from harness.fuzz.events import FindingEvent
    from harness.fuzz.finding_files import keep, where

    last = {e.signature: e for e in events if isinstance(e, FindingEvent) and e.triage != "known"}
    for signature, e in sorted(last.items()):
        print(f"  ({search_name}: {e.triage} {signature[:80]}: {where(keep(e, Path(FINDINGS), Path(FINDINGS)))})")


def statement_count(directory: str, lines: set[str]) -> tuple[int, int, int]:
    """(modules, statements, statements in functions) of the modules of ``directory``'s package that ``lines``
    name; a case reaches only the latter (module and class bodies run once, at import, outside any measure)."""
    from harness.fuzz.reach import statements

    base = os.path.dirname(directory)
    files = {line.rsplit(":", 1)[0] for line in lines}
    return (len(files), sum(len(statements(os.path.join(base, f))) for f in files),
            sum(len(statements(os.path.join(base, f), functions_only=True)) for f in files))


def measure(name: str, seconds: float, long: float, seed: int, baseline: bool = True) -> None:
    from harness.fuzz.config import CampaignConfig
    from harness.fuzz.reach import package_directory
    from harness.suite.source import QuantizerLoadError, load_quantizer_factory, make_quantizer, quantizer_configs

    spec = f"harness.quantizers:{name}"
    try:
        source = load_quantizer_factory(spec)
        directory = package_directory(make_quantizer(source))
    except (ImportError, QuantizerLoadError) as e:
        print(f"{name}: skipped ({str(e)[:150]})", flush=True)
        return
    configs = quantizer_configs(source)
    print(f"{name}: package {directory}; {len(configs)} configuration variant(s): {', '.join(configs)}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    config = CampaignConfig(quantizer=spec, target="harness.suite.fuzz_target:quantizer_target", seed=seed)
    fixed = fresh(fixed_models, spec, directory)
    print(f"  fixed models: {len(fixed)} lines", flush=True)
    runs = {"uniform": fresh(search, config, "fast", seconds, seed)}
    print(f"  uniform {seconds:g} s: {len(runs['uniform']['lines'])} lines", flush=True)
    runs["guided"] = fresh(search, config, "guided", seconds, seed)
    print(f"  guided {seconds:g} s: {len(runs['guided']['lines'])} lines", flush=True)
    if baseline and len(configs) > 1:
        runs["guided, default config"] = fresh(search, config, "guided", seconds, seed, False)
        print(f"  guided {seconds:g} s, default config only: {len(runs['guided, default config']['lines'])} lines",
              flush=True)
    if long:
        runs["guided long"] = fresh(search, config, "guided", long, seed)
    union = fixed.union(*(r["lines"] for r in runs.values()))
    modules, everything, total = statement_count(directory, union)
    print(f"  annotation modules reached: {modules}, {everything} statements, {total} of them in functions (80%: "
          f"{0.8 * total:.0f}; the rest run at import)")
    print(f"  {'run':<34} {'lines':>6} {'x fixed':>8} {'% in fn':>8} {'cases/s':>8} {'annotated':>9} {'errors':>6}")
    print(f"  {'six fixed models':<34} {len(fixed):>6} {1.0:>8.2f} {100 * len(fixed) / max(total, 1):>7.1f}%")
    for label, r in runs.items():
        span = long if label == "guided long" else seconds
        n = len(r["lines"])
        print(f"  {label + f' {span:g} s':<34} {n:>6} {n / max(len(fixed), 1):>8.2f} {100 * n / max(total, 1):>7.1f}% "
              f"{r['rate']:>8.1f} {100 * r['annotated']:>8.0f}% {r['errors']:>6}")
    g = len(runs["guided"]["lines"])
    ok = g >= 1.3 * len(fixed) or g >= 0.8 * total
    print(f"  target (guided {seconds:g} s >= 1.3x fixed or >= 80% of statements): {'met' if ok else 'NOT met'}"
          + (f"; {long:g} s > {seconds:g} s: {len(runs['guided long']['lines']) > g}" if long else ""), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", default=list(DEFAULT))
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--long", type=float, default=0.0, help="also a guided run this long (the issue: 600)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-baseline", action="store_true",
                   help="leave out the guided run in the default configuration only (of a factory with variants)")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    for name in args.names:
        measure(name, args.seconds, args.long, args.seed, not args.no_baseline)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
