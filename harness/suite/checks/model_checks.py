"""The runners of the checks on the small models (:mod:`harness.suite.subjects.models`) that look at the
quantizer's cached run: ``annotate`` (it ran, changed nothing else, and annotated a model it claims),
``well_formed``, ``prepare``, and ``coverage`` (check 6: a quantizer that annotates none of the models it could
support is an error)."""

from __future__ import annotations

from torch.fx import GraphModule

from harness.suite.check_registry import ANNOTATE, COVERAGE, PREPARE, WELL_FORMED
from harness.suite.checks.claims import claimed_ops, claims_model, norm_op
from harness.suite.checks.model_runs import annotated_model, skipped_for_prerequisites
from harness.suite.checks.prepare_agreement import check_prepare
from harness.suite.checks.well_formed_annotations import check_well_formed
from harness.suite.describe import target_name
from harness.suite.options import SuiteOptions
from harness.suite.results import CheckResult, Problem
from harness.suite.source import QuantizerSource
from harness.suite.subjects import models
from harness.suite.subjects.subject import Subject

__all__ = ["check_model_annotate", "check_model_well_formed", "check_model_prepare", "check_coverage"]


def _model_ops(gm: GraphModule) -> str:
    ops = sorted({target_name(n.target).removeprefix("aten.").split(".")[0]
                  for n in gm.graph.nodes if n.op == "call_function"})
    return ", ".join(ops)


def check_model_annotate(subject: Subject, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Check 1 on a model; leaving unannotated a model the quantizer claims (or does not disclaim) is a warning."""
    model_name = subject.name
    ann = annotated_model(source, model_name, options)
    result = CheckResult(ANNOTATE.name, subject, source.label, list(ann.problems), ann.gm)
    result.annotated = ann.count
    if not ann.failed and ann.count == 0:
        claimed = claimed_ops(ann.quantizer)
        claims = claims_model(claimed, model_name)
        if claims is not False:
            key_ops = models.get_model(model_name).key_ops
            why = ("it says it supports " + ", ".join(sorted({norm_op(o) for o in key_ops} & (claimed or frozenset())))
                   if claims else "it does not say which ops it supports (get_supported_operators() is missing or "
                   "names no op)")
            result.problems.append(Problem(
                ANNOTATE.name,
                f"annotated nothing on model {model_name!r} (ops: {_model_ops(ann.gm)}): no node got a "
                f"QuantizationAnnotation with a spec, though {why}. If the quantizer does not support this model, "
                "leave it out with --pt2e-models.",
                "warning"))
    return result


def check_model_well_formed(subject: Subject, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Check 2 on a model (skipped when the quantizer failed on it)."""
    ann = annotated_model(source, subject.name, options)
    result = CheckResult(WELL_FORMED.name, subject, source.label, gm=ann.gm, annotated=ann.count)
    if not skipped_for_prerequisites(result, ann, well_formed=False):
        result.problems.extend(check_well_formed(ann.gm))
    return result


def check_model_prepare(subject: Subject, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Check 3 on a model (skipped when the quantizer failed on it or its annotations are not well formed)."""
    ann = annotated_model(source, subject.name, options)
    result = CheckResult(PREPARE.name, subject, source.label, gm=ann.gm, annotated=ann.count)
    if skipped_for_prerequisites(result, ann):
        return result
    result.problems.extend(check_prepare(ann.gm, options.prepare, options.budget.timeout, source.is_qat)[0])
    return result


def check_coverage(subject: Subject, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Check 6: the quantizer (``subject``) annotates at least one of the models it claims (or does not say it does
    not)."""
    result = CheckResult(COVERAGE.name, subject, source.label)
    counts: dict[str, int] = {}
    considered = []
    for name in models.selected_models(options):
        ann = annotated_model(source, name, options)
        if ann.failed:
            continue
        counts[name] = ann.count
        if claims_model(claimed_ops(ann.quantizer), name) is not False:
            considered.append(name)
    result.stats["annotated_per_model"] = counts
    if not counts:
        result.problems.append(Problem(COVERAGE.name, "the quantizer failed on every model (see the annotate checks)",
                                       "skip"))
    elif not considered:
        result.problems.append(Problem(COVERAGE.name, "none of the models has an op the quantizer says it supports",
                                       "skip"))
    elif all(counts[n] == 0 for n in considered):
        result.problems.append(Problem(
            COVERAGE.name,
            f"the quantizer annotated nothing on any of the {len(considered)} models it could support "
            f"({', '.join(considered)}): annotate() never set a QuantizationAnnotation with a spec in "
            "node.meta['quantization_annotation']"))
    return result
