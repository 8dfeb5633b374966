"""The quantizer's run on each model, cached per process (the annotate, well_formed, prepare, numerics and
coverage checks of a model look at the same annotated graph), and the rule that a check whose prerequisites
failed (the quantizer failed on the model, or its annotations are not well formed) is skipped, saying why."""

from __future__ import annotations

from harness.suite.checks.quantizer_run import Annotated, run_quantizer
from harness.suite.checks.well_formed_annotations import not_well_formed
from harness.suite.options import SuiteOptions
from harness.suite.results import CheckResult, Problem
from harness.suite.source import QuantizerSource
from harness.suite.subjects import models

__all__ = ["annotated_model", "clear_caches", "skipped_for_prerequisites"]

# (source.identity, model) -> (source, run); the source is kept so the factory's id is not reused.
_ANNOTATED: dict[tuple[tuple, str], tuple[QuantizerSource, Annotated]] = {}


def annotated_model(source: QuantizerSource, model_name: str, options: SuiteOptions) -> Annotated:
    """The quantizer's run on a model, cached per process (for QAT, on the model exported in train mode)."""
    key = (source.identity, model_name)
    if key not in _ANNOTATED:
        _ANNOTATED[key] = (source, run_quantizer(models.export_model(model_name, source.export_strict, source.is_qat),
                                                   source,
                                                   options.budget.timeout, f"model {model_name!r}",
                                                   options.hang_markers))
    return _ANNOTATED[key][1]


def clear_caches() -> None:
    """Forget the quantizers' runs on models (the plugin calls this at the start of each session)."""
    _ANNOTATED.clear()


def skipped_for_prerequisites(result: CheckResult, ann: Annotated, well_formed: bool = True) -> bool:
    """Mark ``result`` skipped, and say so, when the quantizer failed on the model or (``well_formed``) its
    annotations are not well formed: those checks report the problem, the later ones have nothing to check."""
    if ann.failed:
        reason = "the quantizer failed on this model (see the annotate check)"
    elif well_formed and not_well_formed(ann.gm):
        reason = "the annotations are not well formed (see the well_formed check)"
    else:
        return False
    result.problems.append(Problem(result.check, reason, "skip"))
    return True
