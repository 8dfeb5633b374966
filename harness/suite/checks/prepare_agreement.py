"""Check 3: the reference prepare and the prepare under test agree on a graph the quantizer annotated, and the
prepared model is sound (:func:`harness.check.run.check_case` on the extracted case).

The levels (the policy of the campaign's exit status, :mod:`harness.fuzz.config`): a failure only the prepare under
test has is an ``error``; a known upstream bug (torchao fails the same way) is ``known``; an *unjudged*
disagreement (the prepare under test does what torchao does and the reference does not) is a ``warning``: not the
quantizer's failure, so it does not fail the author's CI, but the case is saved and the warning asks for a report
(``-W error::harness.plugin.QuantizerWarning`` makes it fail)."""

from __future__ import annotations

from typing import Any, Callable

from torch.fx import GraphModule

import prepare_impl
from harness.check.run import TRIAGE_REFERENCE, TRIAGE_UPSTREAM, check_case, load_function
from harness.common.timelimit import TimeLimitExceeded, call_with_time_limit
from harness.fx.build import BuildError
from harness.fx.derive_registry import unnamed_derive_functions
from harness.fx.extract import UnsupportedGraph, extract_case
from harness.suite.check_registry import PREPARE
from harness.suite.describe import exc_line
from harness.suite.results import Problem

__all__ = ["load_prepare", "check_prepare"]


def load_prepare(spec: str) -> Callable:
    """The prepare under test named by ``"module:function"`` (``ValueError`` saying what is wrong)."""
    return load_function(spec)


def _opt_in_hint(gm: GraphModule) -> str:
    """What to opt in when the annotations use derive functions a case cannot name yet (else "")."""
    missing = unnamed_derive_functions(gm)
    if not missing:
        return ""
    flags = " ".join(f"--pt2e-allow-derive={n}" for n in missing)
    return (f". The quantizer's derive function{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} {'are' if len(missing) > 1 else 'is'} neither built in nor opted in: run with "
            f"{flags} (or list {'them' if len(missing) > 1 else 'it'} in the ini option pt2e_allow_derive) to "
            "compare the prepares on it")


def check_prepare(gm: GraphModule, prepare_spec: str, timeout: float,
                  is_qat: bool = False) -> tuple[list[Problem], Any]:
    """Check 3: :func:`harness.check.run.check_case` on the case of the annotated ``gm`` (``is_qat``: both prepares
    insert fake quants, and the QAT invariants apply).

    Returns the problems and the case (None when the graph cannot be written as a case: then the check is
    skipped, with the reason).
    """
    try:
        case = extract_case(gm, is_qat=is_qat)
    except UnsupportedGraph as e:
        return [Problem(PREPARE.name, f"the annotated graph cannot be written as a case, so it cannot be compared: {e}"
                        f"{_opt_in_hint(gm)}", "skip")], None
    try:
        candidate = load_prepare(prepare_spec)
    except ValueError as e:
        return [Problem(PREPARE.name, f"--pt2e-prepare: {e}")], case
    try:
        report = call_with_time_limit(check_case, timeout, case, candidate, what="prepare (reference and under test)")
    except TimeLimitExceeded as e:
        return [Problem(PREPARE.name, f"{e}: prepare hangs on these annotations")], case
    except BuildError as e:  # the graph cannot run (its shapes do not fit): nothing to prepare, never a harness crash
        return [Problem(PREPARE.name, f"the annotated graph cannot run, so it cannot be compared: {e}", "skip")], case
    if isinstance(report.reference.error, prepare_impl.AnnotationError):
        return [Problem(PREPARE.name, "the annotations are not well formed (see the well_formed check): "
                        f"{exc_line(report.reference.error)}", "skip")], case
    if not report.failed:
        return [], case
    if report.known is not None:
        return [Problem(PREPARE.name, report.summary(), "known")], case
    if report.triage in (TRIAGE_REFERENCE, TRIAGE_UPSTREAM):
        return [Problem(PREPARE.name, f"{UNJUDGED}\n{report.summary()}", "warning")], case
    return [Problem(PREPARE.name, report.summary(), "error")], case


UNJUDGED = ("UNJUDGED disagreement with torchao: the prepare under test does what torchao does and the reference "
            "does not. Not a failure of this quantizer; please report it to the harness with the saved case.")
