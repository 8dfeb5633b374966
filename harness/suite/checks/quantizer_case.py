"""One case of the quantizer fuzz target, checked: the rule of :mod:`harness.suite.fuzz_target` for a single graph,
and how its failure is named (the home of that naming, which the campaign and the plugin share).

The rule (the suite's checks 1, 2, 3 and 5 on one graph): the case's graph is exported as a module program, the
quantizer annotates it the way ``prepare_pt2e`` does (``annotate``: it must not raise or change the graph), its
annotations must be well formed (``well_formed``), and the reference and the prepare under test must agree on them
with the invariants holding (``prepare``: :func:`harness.check.run.check_case`, triaged against torchao, so a known
upstream bug stays ``known``). The first stage that fails names the finding (:func:`problem_class`); its signature
is name-free (node names and numbers left out), so the same bug on two graphs is one finding; a known upstream bug
of the steps around the quantizer (torchao's batch-norm fusions, :mod:`harness.suite.checks.pipeline_bugs`) is a
``known`` finding named by the bug, and a judged bug of a real quantizer (:mod:`harness.suite.quantizer_triage`) is
named by it too (:func:`as_known`). The case saved is the exported graph with the quantizer's annotations (the graph
alone when they cannot be read back).
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import Any, Callable, Iterable, Optional

import prepare_impl
from harness.case import Case, Info
from harness.corpus.quantizer_bugs import FACTORY_MODULE
from harness.check.groups import with_variant
from harness.check.run import TRIAGE_KNOWN, TRIAGE_NEW, TRIAGE_UPSTREAM, check_case
from harness.fuzz.target import CandidateEscaped, Verdict, finding_case
from harness.fx.extract import UnsupportedGraph, extract_case, extract_graph
from harness.suite.checks.pipeline_bugs import PipelineBug, bug_of, is_pipeline_failure
from harness.suite.checks.quantizer_run import Annotated, run_quantizer
from harness.suite.checks.well_formed_annotations import check_well_formed
from harness.suite.describe import REFUSED
from harness.suite.quantizer_triage import KnownQuantizerBug, QuantizerBugTriage
from harness.suite.results import Problem
from harness.suite.source import (QAT_TAG, QuantizerLoadError, QuantizerSource, config_variant, load_quantizer_factory,
                                  qat_variant)
from harness.suite.subjects.case_graphs import graph_module_for_quantizer

__all__ = ["check_with_quantizer", "problem_class", "may_be_judged", "as_known", "JudgedBugs"]

_RAISED = re.compile(r"^(\w+\(\)) raised (\w+)")
_ERROR_FIRST = re.compile(r"^(\w+Error): ")
_FRAME = re.compile(r"^\s+\S+:\d+ in ([\w.<>]+): ")  # a traceback line of harness.suite.describe.where
_NUMBER = re.compile(r"(?<![A-Za-z])\d+")  # a number, not the digits of a word (pt2e, conv2d, int8 stay)


def problem_class(problem: Problem, names: Iterable[str]) -> str:
    """``problem`` in a name-free form: its check, then its first line with node ``names`` and numbers (not the
    digits inside a word: ``conv2d``) left out (``well_formed: CyclicSharingError``); for an exception the quantizer
    raised, the step, the type and the function it was raised in, the innermost frame of the message's traceback
    (``annotate: annotate() raised IndexError in _annotate_conv2d``): two bugs that raise the same type in one step
    are two findings."""
    lines = problem.message.splitlines() if problem.message else [""]
    m = _RAISED.match(lines[0]) or _ERROR_FIRST.match(lines[0])
    if m:
        sites = [f.group(1) for f in map(_FRAME.match, lines[1:]) if f]
        return f"{problem.check}: {' raised '.join(m.groups())}" + (f" in {sites[-1]}" if sites else "")
    line = lines[0]
    line = re.sub(r"'[^']*'", "'_'", line)
    words = sorted((n for n in names if n), key=len, reverse=True)
    if words:
        line = re.sub(r"\b(" + "|".join(map(re.escape, words)) + r")\b", "_", line)
    line = re.sub(r"^annotation of '_': ", "", _NUMBER.sub("N", line))
    return f"{problem.check}: {line[:120]}"


def _annotated_case(ann: Annotated, drawn: Case) -> Case:
    """The case a failure saves: the graph the quantizer saw with its annotations; without them when they cannot be
    read back (a dangling reference); the drawn graph when even that fails."""
    if ann.gm is not None:
        try:
            return replace(extract_case(ann.gm, is_qat=drawn.is_qat), quantizer_config=drawn.quantizer_config,
                           strict_export=drawn.strict_export)
        except UnsupportedGraph:
            pass
        try:
            return Case(extract_graph(ann.gm), (), is_qat=drawn.is_qat, quantizer_config=drawn.quantizer_config,
                        strict_export=drawn.strict_export)
        except UnsupportedGraph:
            pass
    return replace(drawn, annotations=())


def _failing(case: Case, errors: list[Problem], label: str, names: Iterable[str], triage: str = "new",
             known: Optional[PipelineBug] = None) -> Verdict:
    names = list(names)
    signature = " | ".join(sorted({problem_class(p, names) for p in errors}))
    if known is not None:  # named by the bug, as a known bug of the prepare is
        signature = known.id
    if triage == "refused":  # named by what was refused: the root cause's type and words, names and numbers out
        signature = "annotate: refused: " + " | ".join(sorted({_refused_what(p, names) for p in errors}))
    signature = _under_variant(signature, case, known)
    text = f"quantizer {label}:\n" + "\n".join(f"{p.check}: {p.message}" for p in errors)
    info = Info(title=signature, kind="finding", notes=text, tags=("finding", "quantizer", signature))
    return Verdict(replace(case, info=info), True, signature, triage, known, text)


def _under_variant(signature: str, case: Case, known: Any) -> str:
    """``signature`` of a finding on ``case``: ``config:NAME SIGNATURE`` under a variant other than the default (a
    known upstream bug, ``known``, keeps its name)."""
    return signature if known is not None else with_variant(signature, case.quantizer_config)


def _refused_what(problem: Problem, names: Iterable[str]) -> str:
    line = problem.message.splitlines()[0]
    cause = re.search(r"\(caused by (.*)\)$", line)
    text = cause.group(1) if cause else line[len(REFUSED) + 2:]
    return problem_class(Problem(problem.check, text), names).split(": ", 1)[1][:100]


def check_with_quantizer(case: Case, source: QuantizerSource, candidate: Callable, numerics: bool = False,
                         float_semantics: bool = False,
                         annotating: Callable[[], AbstractContextManager] = nullcontext) -> Verdict:
    """The checks of the module docstring on ``case``'s graph (its own annotations are ignored), by the quantizer
    of ``source`` in ``case``'s configuration variant (:func:`config_variant`: a ``QuantizerLoadError`` when it has
    none of that name); each call of the quantizer's own code runs inside ``annotating()`` (the reach measure,
    :func:`run_quantizer`'s ``traced``)."""
    try:
        gm = graph_module_for_quantizer(case.graph, source.export_strict or case.strict_export)  # the suite's export
    except Exception:  # noqa: BLE001 - a graph that cannot be built is not the quantizer's fault
        return Verdict(case, False)
    source = config_variant(source, case.quantizer_config, gm)
    try:  # 0: no limit of its own, the engine's case limit applies
        ann = run_quantizer(gm, source, 0, "a fuzzed graph", None, traced=annotating)
    except Exception:
        raise
    except BaseException as e:  # noqa: BLE001 - SystemExit & co. from the quantizer: a crash
        raise CandidateEscaped(e) from None
    saved = _annotated_case(ann, case)
    names = [n.name for g in (saved.graph, case.graph) for n in g.nodes if n.op != "output"]  # "output": a word too
    upstream = [p for p in ann.problems if p.level in ("error", "known") and is_pipeline_failure(p.message)]
    if upstream:  # torchao's steps around the quantizer failed (harness.suite.checks.pipeline_bugs): known or
        bug = bug_of(upstream[0].message)  # unjudged, and the drawn graph saved, which replays through them
        return _failing(replace(case, annotations=()), upstream[:1], source.label, names,
                        TRIAGE_KNOWN if bug is not None else TRIAGE_UPSTREAM, bug)
    errors = [p for p in ann.problems if p.level == "error"]
    if errors:  # a graph edit may remove its own trigger: the drawn graph replays it, the edited one may not
        edited = any("() changed the graph" in p.message for p in errors)  # annotate()/validate(), quantizer_run
        return _failing(replace(case, annotations=()) if edited else saved, errors, source.label, names)
    refusals = [p for p in ann.problems if p.level == "warning" and p.message.startswith(REFUSED)]
    if refusals:  # the quantizer says it does not support this graph: reported, not a bug (fails only --strict)
        return _failing(saved, refusals, source.label, names, triage="refused")
    if ann.fused:  # the checks below see the graph after torchao's QAT conv-bn rewrite, which the quantizer never
        saved = replace(case, annotations=())  # saw: the drawn graph replays a failure there, annotating that one not
    errors = [p for p in check_well_formed(ann.gm) if p.level == "error"]
    if errors:
        return _failing(saved, errors, source.label, names)
    try:
        annotated = extract_case(ann.gm, is_qat=case.is_qat)
    except UnsupportedGraph:
        return Verdict(saved, False)  # cannot be written as a case: not compared (as the suite skips it)
    report = check_case(annotated, candidate, numerics=numerics, float_semantics=float_semantics)
    if not report.failed or isinstance(report.reference.error, prepare_impl.AnnotationError):
        return Verdict(saved, False)
    text = f"prepare of the annotations of quantizer {source.label}:\n{report.summary()}"
    found = replace(finding_case(report), quantizer_config=case.quantizer_config, strict_export=case.strict_export)
    if ann.fused:
        found = replace(saved, info=found.info)
    signature = _under_variant(report.signature if report.known is not None else f"prepare: {report.signature}", case,
                               report.known)
    info = replace(found.info, title=signature, notes=text, tags=found.info.tags + ("quantizer",))
    return Verdict(replace(found, info=info), True, signature, report.triage, report.known, text)


def may_be_judged(verdict: Verdict) -> bool:
    """Whether ``verdict`` is a failure a judged quantizer bug may name: new, or an unjudged failure of torchao's
    steps around the quantizer (not a known upstream bug, not a refusal)."""
    return verdict.failed and verdict.triage in (TRIAGE_NEW, TRIAGE_UPSTREAM)


def as_known(verdict: Verdict, bug: KnownQuantizerBug) -> Verdict:
    """``verdict`` as the known quantizer bug ``bug``: named by it, as a known upstream bug is."""
    text = f"known quantizer bug {bug.id} ({bug.title}, {bug.link}): its case fails the same way\n{verdict.text}"
    info = replace(verdict.case.info, title=bug.id, notes=text, link=bug.link,
                   tags=("finding", "quantizer", bug.id, verdict.signature))
    return replace(verdict, case=replace(verdict.case, info=info), signature=bug.id, triage=TRIAGE_KNOWN, known=bug,
                   text=text)


class JudgedBugs:
    """The judged bugs of a real quantizer (:mod:`harness.suite.quantizer_triage`) for a check outside the campaign
    (the plugin's random graphs): :meth:`named` says which one a failing graph is.

    The rule: a graph is the judged bug B when the campaign's own check of that graph (:func:`check_with_quantizer`,
    ``prepare`` the prepare under test) fails as B (B's case, replayed once, still failing the same way), and every
    error the caller's check found on it is one that check found too (the same words): a failure the campaign's
    check does not share (another stage, another error) stays a failure. Only the factories of
    :data:`harness.corpus.quantizer_bugs.FACTORY_MODULE` have judged bugs."""

    def __init__(self, source: QuantizerSource, prepare: Callable) -> None:
        spec = source.label.removesuffix(QAT_TAG).strip()
        self._prepare = prepare
        self._sources: dict[bool, QuantizerSource] = {}
        try:  # the factory as the campaign loads it (the judged bugs were met through it)
            if not spec.startswith(f"{FACTORY_MODULE}:"):
                raise QuantizerLoadError(f"{spec}: not a factory of {FACTORY_MODULE}")
            ptq = load_quantizer_factory(spec)
            self._sources = {False: ptq, True: qat_variant(ptq) if ptq.qat_capable else ptq}
        except (QuantizerLoadError, ImportError):  # a label that names no factory with judged bugs: none is judged
            spec = ""
        self._triage = QuantizerBugTriage(spec, self._signature) if spec else None

    def _verdict(self, case: Case) -> Verdict:
        return check_with_quantizer(case, self._sources[case.is_qat], self._prepare)

    def _signature(self, case: Case) -> Optional[str]:
        verdict = self._verdict(case)
        return verdict.signature if verdict.failed else None

    def named(self, graph: Any, is_qat: bool, errors: Iterable[Problem]) -> Optional[KnownQuantizerBug]:
        """The judged bug the failing ``graph`` is (its check found ``errors``), or None."""
        if self._triage is None or not self._triage.has_entries():
            return None
        try:
            verdict = self._verdict(Case(graph, (), is_qat=is_qat))
        except Exception:  # noqa: BLE001 - the campaign's check could not be run here: nothing is named
            return None
        if not may_be_judged(verdict):
            return None
        if not all(f"{p.check}: {p.message}" in verdict.text for p in errors):
            return None
        return self._triage.known(verdict.signature)
