"""``python -m harness shrink CASE``: shrink a saved finding further, keeping its failure, and save it beside it.

The rule: the case is checked by the campaign's target (the prepare ``--candidate``, or ``--quantizer`` with it) and
its signature noted; then the greedy reducer (:func:`harness.fuzz.reduce.shrink_case`, the one the campaign's
workers shrink with) runs until no edit applies (a fixpoint) or ``--seconds`` are spent (no limit by default). The
smaller case is written with :func:`harness.case.files.save_case` into the folder of the old one (content-named; the
old file is kept), and the old and new sizes (nodes, annotations) and path printed. A NEW failure on a case torchao
fails too may shrink to a case torchao fails the same way (:mod:`harness.check.masked`): the command says so.

Exit status: 0 written (or nothing smaller keeps the failure); 1 the case does not fail with this candidate (or
quantizer); 2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from harness.case import Case
from harness.case.files import load_case, save_case
from harness.case.jsonform import CaseFormatError
from harness.check.masked import found_as_note
from harness.fuzz.cli import QUANTIZER_TARGET
from harness.fuzz.config import EXIT_FOUND, EXIT_OK, EXIT_USAGE, CampaignConfig
from harness.fuzz.reduce import Attempt, attempt, shrink_case, size
from harness.fuzz.target import Target, load_target

__all__ = ["main_shrink", "shrink_parser"]


def _saved_form(target: Target, case: Case, result: Attempt, original: Case) -> Case:
    if result.report is not None:
        return target.finding_case(result.report)
    return replace(case, info=original.info, expected=None)  # a timeout or crash: its info still says it


def shrink_parser() -> argparse.ArgumentParser:
    d = CampaignConfig()
    p = argparse.ArgumentParser(prog="python -m harness shrink", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("case", metavar="CASE", help="a saved case (a finding of the fuzz campaign)")
    p.add_argument("--candidate", default=d.candidate, metavar="MODULE:FUNCTION",
                   help=f"the prepare the case fails with (default {d.candidate})")
    p.add_argument("--quantizer", default=None, metavar="MODULE:NAME",
                   help="the case is a finding of this quantizer (fuzz --quantizer): its graph is re-annotated by it")
    p.add_argument("--seconds", type=float, default=None, help="stop shrinking after this long (default: no limit)")
    p.add_argument("--case-timeout", type=float, default=d.case_timeout, metavar="S",
                   help=f"time limit of one check; over it the signature is `timeout` (default {d.case_timeout:g})")
    p.add_argument("--numerics", action="store_true", help="as fuzz --numerics (if the finding was found with it)")
    p.add_argument("--float-semantics", action="store_true", help="as fuzz --float-semantics")
    return p


def main_shrink(argv: list[str]) -> int:
    args = shrink_parser().parse_args(argv)
    if (args.seconds is not None and args.seconds <= 0) or args.case_timeout <= 0:
        print("--seconds and --case-timeout must be positive", file=sys.stderr)
        return EXIT_USAGE
    path = Path(args.case)
    try:
        case = load_case(path)
    except (CaseFormatError, OSError) as e:
        print(f"{args.case}: {e}", file=sys.stderr)
        return EXIT_USAGE
    config = CampaignConfig(candidate=args.candidate, numerics=args.numerics, float_semantics=args.float_semantics,
                            case_timeout=args.case_timeout, quantizer=args.quantizer,
                            target=QUANTIZER_TARGET if args.quantizer else CampaignConfig.target)
    try:
        target = load_target(config)
    except ValueError as e:
        print(str(e) if str(e).startswith("--") else f"--candidate: {e}", file=sys.stderr)
        return EXIT_USAGE
    logging.getLogger("torch._subclasses.fake_tensor").setLevel(logging.CRITICAL)  # edits that do not build: quiet
    deadline = time.time() + args.seconds if args.seconds is not None else None
    first = attempt(target.check, case, args.case_timeout)
    nodes, anns = size(case)
    print(f"old: {nodes} nodes, {anns} annotations  {path}")
    if first is None or not first.signature:
        why = "the check cannot run on it" if first is None else "it passes"
        print(f"{target.label}: the case does not fail ({why}): nothing to keep while shrinking", file=sys.stderr)
        return EXIT_FOUND
    print(f"failure kept while shrinking: {first.signature}", flush=True)

    shown = [size(case)]

    def progress(c: Case) -> None:
        if size(c) != shown[-1]:
            shown.append(size(c))
            print(f"  {size(c)[0]} nodes, {size(c)[1]} annotations", flush=True)

    small, last, checks = shrink_case(case, target.check, first.signature, annotations=target.reads_annotations,
                                      case_timeout=args.case_timeout, deadline=deadline, progress=progress,
                                      unmasks=target.unmasks)
    out_of_time = deadline is not None and time.time() > deadline
    if last is None:
        print(f"nothing smaller fails the same way ({checks} edits checked"
              f"{', out of time' if out_of_time else ''}); the case is kept as it is")
        return EXIT_OK
    final = _saved_form(target, small, last, case)
    if last.signature != first.signature:  # harness.check.masked: torchao fails the smaller case the same way
        print(f"unmasked: on the smaller case torchao fails the same way: {last.signature}")
        final = replace(final, info=replace(final.info, notes=f"{found_as_note(first.signature)}\n{final.info.notes}"))
    written = save_case(final, path.parent)
    nodes, anns = size(final)
    print(f"new: {nodes} nodes, {anns} annotations  {written}  ({checks} edits checked"
          f"{', out of time: not a fixpoint' if out_of_time else ''})")
    return EXIT_OK
