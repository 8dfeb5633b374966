"""Differential testing of one case: a candidate prepare against the reference and the invariants, then triage.

``check_case(case, candidate)`` builds the case twice (an original, and the candidate's copy, since prepare edits
its input in place), runs the candidate (any function with torchao's ``prepare`` signature) on its copy and the
reference (``prepare_impl.prepare``), puts both results in canonical form, compares them
(:mod:`harness.check.compare`) and checks the candidate's result against the invariants
(:mod:`harness.check.invariants`, with the reference's sharing groups as the expected partition). The order (the
rule): the reference's sharing analysis runs first, on the original: when it rejects the annotations, that error
is the reference's outcome (it is the reference prepare's first step, which raises before touching the graph). Then
the candidate prepares its copy and the invariants read the original, unmutated; only then does the reference
prepare the original itself (the canonical form reads only the annotations and node names of the model prepared
from, which a prepare keeps). A failing case is triaged over a fresh build of the case, unmutated, made only when
something reads the graph (not when the candidate is torchao and a predicate that reads only the analysis names it).

Triage by reproduction (the rule): a failure is *known* only when the pinned upstream prepare (``UPSTREAM``), run
on the same case, fails the same way: the same divergence classes and the same error or prepared result
(:func:`same_failure`). Upstream is run only on failing cases, and not at all when the candidate *is* upstream
(or a wrapper of it that names it in ``__wrapped__``, as :func:`functools.wraps` does). The known-bug predicates
(:mod:`harness.check.known_bugs`) then only name the bug. The triage is three-way:

* ``new``: only the candidate fails this way (even when a predicate matches: it then only *resembles* that bug).
  When upstream fails on the case too, differently, the signature says so first (``upstream-fails-too``): the
  case trips an upstream failure, and the campaign groups such findings apart (:mod:`harness.check.groups`); shrunk,
  such a finding may reach a case torchao fails the same way, and is then that case's (:mod:`harness.check.masked`).
  When the reference rejects the case and the candidate prepares it (torchao is lenient there, or raises late),
  the signature also names the invariants the candidate's result breaks by torchao's own sharing groups
  (:mod:`harness.check.lenient`), so that the campaign can group the finding with the same failure elsewhere;
* ``known``: torchao fails the same way and a known bug names it;
* ``upstream``: torchao fails the same way, no known bug names it, and the reference reported an annotation
  error (a typed :class:`prepare_impl.AnnotationError`) where torchao crashed: an upstream bug class, not yet
  named (a ``RecursionError``, a bare ``KeyError`` or ``IndexError`` is never a correct outcome);
* ``reference``: torchao fails the same way and no known bug names it: the reference disagrees with torchao,
  a suspected bug of the reference, not of the candidate.

Only ``new`` is a failure of the candidate. ``upstream`` and ``reference`` are questions for the harness's
maintainers (a disagreement of the reference with torchao that nobody has judged yet); what the campaign's exit
status makes of them is its policy (:mod:`harness.fuzz.config`).

The :class:`Report` says all of it in plain words.
"""

from __future__ import annotations

import functools
import inspect
import sys
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

from torch.fx import GraphModule

import prepare_impl
from harness.check import known_bugs
from harness.common.loading import resolve_object
from harness.fx.build import build, example_inputs
from harness.check.canonical import Canonical, canonical_error, canonical_of
from harness.check.observer_map import ObserverMap, locate_observers
from harness.case import Case
from harness.check.compare import Divergence, compare, divergence_signature
from harness.check.groups import UPSTREAM_FAILS_TOO
from harness.check.lenient import beyond_upstream
from harness.check.numerics import compare_numerics
from harness.check.invariants import CHECKS, CheckContext, Violation, check_all, expected_groups_from_analysis

PrepareFn = Callable[..., GraphModule]

UPSTREAM = "torchao.quantization.pt2e.prepare:prepare"
REFERENCE = "prepare_impl:prepare"


def load_function(spec: str) -> PrepareFn:
    """``"package.module:function"`` -> the function (raises ``ValueError`` with the reason otherwise)."""
    obj = resolve_object(spec)
    if not callable(obj):
        raise ValueError(f"{spec!r}: {spec.partition(':')[2]!r} is not callable")
    return obj


@dataclass
class Outcome:
    """One prepare of one case."""

    canonical: Canonical
    prepared: Optional[GraphModule] = None
    error: Optional[BaseException] = None
    note: str = ""  # what the prepare did, in words, when it is telling (returned its input untouched)
    observers: Optional[ObserverMap] = None  # where the observers of ``prepared`` sit (its canonical form's)


# the triage of a failing case (see the module docstring)
TRIAGE_NEW, TRIAGE_KNOWN, TRIAGE_UPSTREAM, TRIAGE_REFERENCE = "new", "known", "upstream", "reference"


@dataclass
class Report:
    case: Case
    reference: Outcome
    candidate: Outcome
    analysis: Optional[prepare_impl.SharingAnalysis]
    divergences: list[Divergence] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    known: Optional[known_bugs.KnownBug] = None  # set only when upstream reproduces the failure
    triage: str = ""  # "" when nothing failed, else a TRIAGE_* value
    resembles: Optional[known_bugs.KnownBug] = None  # a predicate matched, but upstream does not fail this way
    upstream: Optional[Outcome] = None  # upstream's outcome, when it was run for the triage
    upstream_classes: frozenset = frozenset()  # its divergence classes against the reference
    # on a NEW failure on a case the reference rejects, the candidate prepares and torchao fails on (lenient, or
    # raising late): how the candidate's result breaks the invariants by torchao's own sharing groups
    # (harness.check.lenient)
    beyond_upstream: list[Violation] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.divergences or self.violations)

    @property
    def is_new(self) -> bool:
        """Failed, and no known upstream bug explains it (``new``, ``upstream`` or ``reference``)."""
        return self.failed and self.known is None

    @property
    def upstream_fails_too(self) -> bool:
        """A NEW failure on a case upstream, re-run, fails too (in another way)."""
        return self.triage == TRIAGE_NEW and bool(self.upstream_classes)

    @property
    def classes(self) -> frozenset:
        """The divergence classes: divergence kinds and violated invariants."""
        return failure_classes(self.divergences, self.violations)

    @property
    def failure(self) -> str:
        """How the candidate failed, whatever the triage: the divergences and violated invariants of
        :attr:`signature`, without its triage prefix (``""`` when nothing failed)."""
        parts = [divergence_signature(self.divergences)] if self.divergences else []
        parts.extend(sorted({f"invariant:{v.check}" for v in self.violations + self.beyond_upstream}))
        return " ".join(parts)

    @property
    def signature(self) -> str:
        """Short and name-free: equal for two cases that fail the same way (used to deduplicate findings)."""
        if self.known is not None:
            return f"known:{self.known.id}"
        parts = {TRIAGE_REFERENCE: ["reference-disagrees"], TRIAGE_UPSTREAM: ["upstream-crash"]}.get(self.triage, [])
        if self.upstream_fails_too:
            parts = [UPSTREAM_FAILS_TOO]
        failure = self.failure
        return " ".join(parts + [failure] if failure else parts)

    def summary(self) -> str:
        """What went wrong, in plain words (several lines)."""
        lines = [self.candidate.note] if self.candidate.note else []
        if self.known is not None:
            lines.append(f"known upstream bug {self.known.id}: {self.known.title} ({self.known.link}); "
                         "torchao fails the same way on this case")
        elif self.triage == TRIAGE_UPSTREAM:
            lines.append("torchao crashes where the reference reports an annotation error, and the candidate does "
                         "what torchao does: an upstream bug no known bug names yet (not a failure of the candidate)")
        elif self.triage == TRIAGE_REFERENCE:
            lines.append("the reference disagrees with torchao: the candidate does what torchao does on this case "
                         "(a suspected bug of the reference prepare, not of the candidate)")
        elif self.resembles is not None:
            if self.upstream is not None and not self.upstream_classes:
                how = "torchao prepares this case correctly"
            else:
                how = "torchao fails differently on this case" + (
                    f" ({', '.join(sorted(self.upstream_classes))})" if self.upstream_classes else "")
            lines.append(f"resembles {self.resembles.id} ({self.resembles.title}) but {how}: a NEW failure")
        elif self.upstream_fails_too:
            lines.append(f"torchao fails on this case too, differently ({', '.join(sorted(self.upstream_classes))}): "
                         "a NEW failure")
        for d in self.divergences:
            lines.append(f"{d.kind}: {d.detail}")
        for v in self.violations:
            lines.append(f"invariant {v.check}: {v.message}")
        torchao = "torchao's own result meets it" if self.upstream and self.upstream.error is None else \
            "torchao raised after its grouping"
        for v in self.beyond_upstream:
            lines.append(f"invariant {v.check}, by torchao's own sharing groups of this case ({torchao}): "
                         f"{v.message}")
        return "\n".join(lines) if lines else "no divergence"


def failure_classes(divergences: list[Divergence], violations: list[Violation]) -> frozenset:
    return frozenset({d.kind for d in divergences} | {f"invariant:{v.check}" for v in violations})


def same_failure(candidate: Outcome, candidate_classes: frozenset, upstream: Outcome, upstream_classes: frozenset
                 ) -> bool:
    """Whether upstream fails the way the candidate does: the same classes, and the same error type or the same
    prepared result (their canonical forms do not diverge)."""
    return bool(candidate_classes) and candidate_classes == upstream_classes and not compare(
        upstream.canonical, candidate.canonical)


def run_prepare(prepare_fn: PrepareFn, case: Case, original: GraphModule, work: Optional[GraphModule] = None
                ) -> Outcome:
    """Prepare ``work`` (default: a fresh build of ``case``) with ``prepare_fn``; any exception becomes the outcome.
    ``work`` may be ``original`` itself, once nothing needs it unmutated: the canonical form reads only its
    annotations and node names, which a prepare keeps."""
    work = build(case) if work is None else work
    try:
        prepared = prepare_fn(work, {}, case.is_qat)
    except Exception as e:  # noqa: BLE001 - a crash of the prepare under test is a result, not an error here
        return Outcome(canonical_error(e), None, e)
    if not isinstance(prepared, GraphModule):
        e = TypeError(f"prepare returned {type(prepared).__name__}, not a GraphModule")
        return Outcome(canonical_error(e), None, e, f"the candidate returned {prepared!r:.40}, not a prepared model")
    try:
        observers = locate_observers(original, prepared)
        canonical = canonical_of(observers)
    except Exception as e:  # noqa: BLE001 - garbage output: report it as such
        return Outcome(canonical_error(e), prepared, e)
    untouched = prepared is work and not canonical.groups
    return Outcome(canonical, prepared, None, "the candidate returned its input without inserting any observer"
                   if untouched else "", observers)


@dataclass
class _Setting:
    case: Case
    original: GraphModule  # unmutated while the invariants read it
    analysis: Optional[prepare_impl.SharingAnalysis]  # of ``original``
    reference: Optional[Outcome]  # None until the reference has prepared
    invariants: bool
    float_semantics: bool
    numerics: bool

    def fresh(self) -> "_Setting":
        """The same setting over a new build of the case (after the reference prepared ``original`` in place)."""
        original = build(self.case)
        analysis = prepare_impl.sharing_groups(original) if self.analysis is not None else None
        return replace(self, original=original, analysis=analysis)


def _violations(s: _Setting, outcome: Outcome) -> list[Violation]:
    """The invariants ``outcome`` violates (``s.original`` must be unmutated)."""
    if not (s.invariants and outcome.prepared is not None and outcome.error is None and s.analysis is not None):
        return []
    ctx = CheckContext(
        original=s.original,
        prepared=outcome.prepared,
        is_qat=s.case.is_qat,
        expected_groups=expected_groups_from_analysis(s.analysis),
        example_inputs=example_inputs(s.case.graph) if s.float_semantics else None,
        observer_map=outcome.observers,
    )
    return check_all(ctx, only=_checks(s))


def _checks(s: _Setting) -> list[str]:
    """The invariants a check runs: all of them, float semantics only when asked for."""
    return [n for n in CHECKS if s.float_semantics or n != "float_semantics"]


def _divergences(s: _Setting, outcome: Outcome) -> list[Divergence]:
    """The divergences of ``outcome`` from the reference (``s.reference`` must be set)."""
    divergences = compare(s.reference.canonical, outcome.canonical)
    if s.numerics and not divergences and s.reference.prepared is not None and outcome.prepared is not None:
        divergences.extend(compare_numerics(s.reference.prepared, outcome.prepared, example_inputs(s.case.graph)))
    return divergences


_upstream_fn: list[PrepareFn] = []


def upstream_prepare() -> PrepareFn:
    """The pinned upstream prepare (loaded once)."""
    if not _upstream_fn:
        _upstream_fn.append(load_function(UPSTREAM))
    return _upstream_fn[0]


def check_case(
    case: Case,
    candidate: PrepareFn,
    *,
    invariants: bool = True,
    float_semantics: bool = False,
    numerics: bool = False,
    upstream: Optional[PrepareFn] = None,
) -> Report:
    """Run ``candidate`` and the reference on ``case``, compare, and triage a failure (see the module docstring).

    ``upstream`` is the prepare a failure is reproduced with (default: the pinned torchao prepare).
    """
    try:
        original = build(case)
        try:
            analysis, reference = prepare_impl.sharing_groups(original), None
        except prepare_impl.AnnotationError as e:
            # the reference's first step is this very analysis, which raises before touching the graph: its outcome
            # is this error, without a prepare (most adversarial cases end here)
            analysis, reference = None, Outcome(canonical_error(e), None, e)
        setting = _Setting(case, original, analysis, reference, invariants, float_semantics, numerics)
        outcome = run_prepare(candidate, case, original)
        violations = _violations(setting, outcome)
        if setting.reference is None:  # the reference prepares the original itself: nothing reads it unmutated now
            # (its first step, the analysis of the original, is the one made above)
            reference_prepare = functools.partial(prepare_impl.prepare, analysis=analysis)
            setting.reference = run_prepare(reference_prepare, case, original, work=original)
        report = Report(case, setting.reference, outcome, analysis, _divergences(setting, outcome), violations)
        if report.failed:
            _triage(report, setting, candidate, upstream if upstream is not None else upstream_prepare())
        return report
    finally:
        forget_prepared_models()


# caches keyed by a model (functools.cache), in modules both prepares use: each keeps every model it was given alive
MODEL_CACHES = (("torchao.utils", "_assert_and_get_unique_device"),
                ("torch.ao.quantization.fx.utils", "assert_and_get_unique_device"))


def forget_prepared_models() -> None:
    """Let go of the models torch and torchao keep. The device of a model is looked up through functions cached by
    the model (:data:`MODEL_CACHES`, ``functools.cache``): every model ever prepared stays alive with its graph, so a
    process's memory, and the work of each full run of the cyclic garbage collector, grow with every case. They
    are caches: clearing them costs the next call one walk of a model's parameters. Done after each check; a
    cache this torch or torchao does not have is skipped."""
    for module, name in MODEL_CACHES:
        clear = getattr(getattr(sys.modules.get(module), name, None), "cache_clear", None)
        if clear is not None:
            clear()


def _triage(report: Report, setting: _Setting, candidate: PrepareFn, upstream: PrepareFn) -> None:
    """Triage a failure (see the module docstring). What reads an unprepared graph (torchao's re-run, its
    invariants, the predicates that walk the graph) reads a fresh build, made once and only when needed: the
    reference prepared ``setting.original`` in place, unless its analysis raised (then nothing was prepared)."""
    unprepared: list[_Setting] = [] if setting.analysis is not None else [setting]

    def fresh() -> _Setting:
        if not unprepared:
            unprepared.append(setting.fresh())
        return unprepared[0]

    if inspect.unwrap(candidate) is inspect.unwrap(upstream):  # upstream itself (or a wrapper of it, with
        # __wrapped__): it reproduces its own failure, no re-run
        reproduced = True
    else:
        s = fresh()
        report.upstream = run_prepare(upstream, s.case, s.original)
        report.upstream_classes = failure_classes(_divergences(s, report.upstream), _violations(s, report.upstream))
        reproduced = same_failure(report.candidate, report.classes, report.upstream, report.upstream_classes)
    bug = known_bugs.match(
        known_bugs.Observed(
            unprepared=lambda: (fresh().original, fresh().analysis),
            analysis=setting.analysis,
            reference_error=setting.reference.error,
            candidate_error=report.candidate.error,
            divergence_kinds=frozenset(d.kind for d in report.divergences),
        )
    )
    if not reproduced:
        report.triage, report.resembles = TRIAGE_NEW, bug
        if report.upstream_fails_too and setting.analysis is None and setting.invariants \
                and report.candidate.error is None:  # accepted what the reference rejects: wrong by torchao's groups?
            s = fresh()  # the case unprepared: the reference rejected it, so it is the setting's own original
            report.beyond_upstream = beyond_upstream(s.original, report.candidate.prepared, report.upstream.prepared,
                                                     is_qat=s.case.is_qat, checks=_checks(s))
    elif bug is not None:
        report.triage, report.known = TRIAGE_KNOWN, bug
    elif isinstance(setting.reference.error, prepare_impl.AnnotationError) and report.candidate.error is not None \
            and not isinstance(report.candidate.error, prepare_impl.AnnotationError):
        report.triage = TRIAGE_UPSTREAM
    else:
        report.triage = TRIAGE_REFERENCE


def upstream_state(report: Report) -> str:
    """What upstream does on a failing case, against the reference's result its file records (``info.upstream``):
    ``"crashes"`` or ``"wrong"`` where it fails, ``""`` where it agrees. As the triage saw it: upstream's re-run, or,
    when the candidate is upstream itself (no re-run), the candidate's own failure. A failure of any other candidate
    says nothing of upstream: on a case torchao gets right, torchao is not "wrong"."""
    if not report.failed or (report.upstream is not None and not report.upstream_classes):
        return ""
    outcome = report.candidate if report.upstream is None else report.upstream
    return "crashes" if outcome.error is not None else "wrong"


def reference_expectation(report: Report):
    """The :class:`harness.case.Expected` a case's file records: the reference's canonical form or error."""
    from harness.case import Expected

    if report.reference.error is not None:
        return Expected(error=type(report.reference.error).__name__)
    return Expected(canonical=report.reference.canonical.to_json())

