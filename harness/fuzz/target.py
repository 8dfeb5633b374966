"""What a fuzz worker fuzzes: a :class:`Target` (the cases to draw, the check of one case, the case a failure saves).

The rule: a worker needs only a hypothesis strategy of cases, ``check(case)`` returning a report-like object
(:class:`CheckReport`: ``failed``, a name-free ``signature``, ``triage``, ``known``, ``summary()``, ``case``), and
``finding_case(report)``, the case a failing report is saved as. The prepare target (:func:`prepare_target`, the
default) is :func:`harness.check.run.check_case` of the candidate against the reference. Other targets live in
higher layers (the quantizer suite's, :mod:`harness.suite.fuzz_target`): a :class:`CampaignConfig` names the
factory by a ``"MODULE:NAME"`` string, resolved by :func:`load_target` when a worker starts, so ``harness.fuzz``
never imports the layers above it.

What a target calls on behalf of the user (the candidate prepare, a quantizer) is :func:`guarded`: an
``Exception`` is a result, any other ``BaseException`` (``SystemExit``...) becomes :class:`CandidateEscaped`,
which the worker turns into a ``crash`` finding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Optional, Protocol

from harness.case import Case, Info
from harness.check.masked import unmasked
from harness.check.run import check_case, load_function, reference_expectation, upstream_state
from harness.common.loading import resolve_object

__all__ = ["CandidateEscaped", "CheckReport", "Target", "Verdict",
           "guarded", "case_strategy", "finding_case", "prepare_target", "load_target"]


class CandidateEscaped(BaseException):
    """The candidate raised a BaseException that is not an Exception (SystemExit, KeyboardInterrupt, ...)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"the candidate raised {type(error).__name__}({', '.join(map(repr, error.args))})")
        self.error = error


def guarded(candidate: Callable) -> Callable:
    """``candidate`` whose non-``Exception`` escapes (SystemExit & co.) are :class:`CandidateEscaped`."""

    def call(*args, **kwargs):
        try:
            return candidate(*args, **kwargs)
        except Exception:
            raise
        except BaseException as e:  # noqa: BLE001 - SystemExit & co. from the candidate: a crash, not our exit
            raise CandidateEscaped(e) from None

    call.__wrapped__ = candidate  # the same prepare: the triage does not run torchao again when it is the candidate
    return call


class CheckReport(Protocol):
    """What a worker reads from the check of one case (:class:`harness.check.run.Report` is one)."""

    case: Case
    known: Any  # a known upstream bug (``id``, ``title``, ``link``) or None

    @property
    def failed(self) -> bool: ...

    @property
    def signature(self) -> str: ...

    @property
    def triage(self) -> str: ...

    def summary(self) -> str: ...


@dataclass
class Verdict:
    """A :class:`CheckReport` as plain data, for targets other than the prepare; ``case`` is the case to save."""

    case: Case
    failed: bool
    signature: str = ""
    triage: str = ""
    known: Any = None
    text: str = ""

    def summary(self) -> str:
        return self.text


@dataclass(frozen=True)
class Target:
    """What a worker fuzzes. ``reads_annotations``: the check uses the case's annotations (the quantizer target
    replaces them by the quantizer's, so shrinking them is pointless). ``reach``, when the target measures it: the
    lines of the code under test (``PACKAGE/path.py:LINE``, :mod:`harness.fuzz.reach`) that the last ``check``
    reached; the quantizer target measures its quantizer's package, the prepare target nothing (None).
    ``unmasks(report, signature)``, when the target has such failures: whether the report of a smaller case shows
    the failure signed ``signature`` unmasked, as torchao's own (:mod:`harness.check.masked`; the shrinking follows
    it); the prepare target's is :func:`harness.check.masked.unmasked`."""

    label: str
    strategy: Any  # a hypothesis strategy of harness.case.Case
    check: Callable[[Case], CheckReport]
    finding_case: Callable[[Any], Case]
    reads_annotations: bool = True
    reach: Optional[Callable[[], frozenset[str]]] = None
    unmasks: Optional[Callable[[Any, str], bool]] = None


def case_strategy(mode: str, max_nodes: int):
    """Cases with valid annotations, adversarial ones, or both (three valid for one adversarial)."""
    from hypothesis import strategies as st  # the driver's process never needs hypothesis

    from harness import strategies

    valid = strategies.cases(mode="valid", max_nodes=max_nodes)
    if mode == "valid":
        return valid
    adversarial = strategies.cases(mode="adversarial", max_nodes=max_nodes)
    if mode == "adversarial":
        return adversarial
    # one_of(valid, valid, valid, adversarial) would not weigh 3:1 (hypothesis merges equal branches): draw the kind
    return st.integers(0, 3).flatmap(lambda kind: adversarial if kind == 3 else valid)


def finding_case(report) -> Case:
    """The case of a failing report, with what went wrong in its info, what torchao does on it
    (:func:`harness.check.run.upstream_state`) and the reference's result as expected."""
    known = report.known
    info = Info(
        title=known.id if known is not None else report.signature,
        kind="finding",
        link=known.link if known is not None else "",
        notes=report.summary(),
        upstream=upstream_state(report),
        tags=tuple(t for t in ("finding", known.id if known is not None else None, report.signature) if t),
    )
    return replace(report.case, expected=reference_expectation(report), info=info)


def prepare_target(config) -> Target:
    """The candidate prepare (``config.candidate``) against the reference on generated cases: today's fuzzing."""
    candidate = guarded(load_function(config.candidate))

    def check(case: Case):
        return check_case(case, candidate, numerics=config.numerics, float_semantics=config.float_semantics)

    return Target(f"{config.candidate} against the reference", case_strategy(config.mode, config.max_nodes), check,
                  finding_case, unmasks=unmasked)


def load_target(config) -> Target:
    """The target ``config.target`` names (``"MODULE:NAME"``, a factory taking the config); ``ValueError`` when the
    factory cannot be found or says the candidate or quantizer is unusable."""
    factory = resolve_object(config.target, what="NAME (a fuzz target factory)")
    if not callable(factory):
        raise ValueError(f"{config.target!r} is not callable")
    return factory(config)
