"""Check 4, ``numerics`` (its runner: :func:`check_numerics`): a model prepared (by the prepare under test, or the
reference when that one raises), calibrated and converted with ``convert_pt2e`` runs, and its output is within
``sqnr_min`` dB (SQNR) of the float model's.

QAT: the model exported in train mode is prepared with fake quants, calibrated in train mode (batch norms update
their running statistics), converted and moved to eval mode (``move_exported_model_to_eval``); it is compared with
the float model given the same calibration batches in train mode, then evaluated in eval mode (so both use the
same batch-norm statistics; no optimizer step is taken)."""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any, Sequence

import torch
from torchao.quantization.pt2e import move_exported_model_to_eval
from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

import prepare_impl
from harness.common.timelimit import call_with_time_limit
from harness.suite.check_registry import NUMERICS
from harness.suite.checks.model_runs import annotated_model, skipped_for_prerequisites
from harness.suite.checks.prepare_agreement import load_prepare
from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.describe import exc_line, where
from harness.suite.options import SuiteOptions
from harness.suite.results import CheckResult, Problem
from harness.suite.source import QuantizerSource
from harness.suite.subjects import models
from harness.suite.subjects.subject import Subject

__all__ = ["CALIBRATION_SEEDS", "EVALUATION_SEEDS", "QAT_CONVERT_FACTOR", "sqnr_db", "check_numerics"]

CALIBRATION_SEEDS = range(1, 9)
EVALUATION_SEEDS = (100, 101)
# convert_pt2e folds each QAT conv-bn with torchao's pattern matcher: 96 strict exports of small patterns on a model
# with conv-bn (30-110 s CPU), so in QAT it gets this many times the per-call timeout
QAT_CONVERT_FACTOR = 4


def sqnr_db(reference: Sequence[torch.Tensor], actual: Sequence[torch.Tensor]) -> float:
    """Signal-to-quantization-noise ratio in dB of ``actual`` against ``reference`` (all elements together);
    ``inf`` when they are equal."""
    ref = torch.cat([r.detach().float().flatten() for r in reference])
    act = torch.cat([a.detach().float().flatten() for a in actual])
    noise = (ref - act).pow(2).sum().item()
    signal = ref.pow(2).sum().item()
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def _float_outputs(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out] if out.is_floating_point() else []
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _float_outputs(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _float_outputs(o)]
    return []


def _float_reference(model_name: str, is_qat: bool) -> torch.nn.Module:
    """The float model to compare with: as it is (PTQ), or given the calibration batches in train mode (QAT)."""
    if not is_qat:
        return models.float_model(model_name)
    model = copy.deepcopy(models.float_model(model_name, train=True))
    with torch.no_grad():
        for s in CALIBRATION_SEEDS:
            model(*models.model_inputs(model_name, s))
    return model.eval()


def check_numerics(subject: Subject, source: QuantizerSource, options: SuiteOptions) -> CheckResult:
    """Check 4 on a model: prepare (under test), calibrate, ``convert_pt2e``, run; SQNR against the float model."""
    model_name = subject.name
    timeout = options.budget.timeout
    result = CheckResult(NUMERICS.name, subject, source.label)
    shown = annotated_model(source, model_name, options)  # the report shows the annotated graph, not the prepared
    result.gm, result.annotated = shown.gm, shown.count
    if skipped_for_prerequisites(result, shown, well_formed=False):
        return result
    # a fresh run: prepare changes the graph
    qat = source.is_qat
    ann = run_quantizer(models.export_model(model_name, source.export_strict, qat), source, timeout,
                        f"model {model_name!r}", options.hang_markers)
    if skipped_for_prerequisites(result, ann):
        return result
    callback = getattr(ann.quantizer, "prepare_obs_or_fq_callback", None)
    original_meta = dict(ann.gm.meta)
    prepared = None
    note = ""
    try:
        candidate = load_prepare(options.prepare)
    except ValueError as e:
        result.problems.append(Problem(NUMERICS.name, f"--pt2e-prepare: {e}"))
        return result
    try:
        prepared = call_with_time_limit(candidate, timeout, ann.gm, ann.node_name_to_scope, qat, callback,
                                        what=f"prepare ({options.prepare})")
    except Exception as e:  # noqa: BLE001 - retried with the reference below
        note = f"the prepare under test raised {exc_line(e)}; measured with the reference prepare instead. "
        again = run_quantizer(models.export_model(model_name, source.export_strict, qat), source, timeout,
                              f"model {model_name!r}", options.hang_markers)
        try:
            prepared = call_with_time_limit(prepare_impl.prepare, timeout, again.gm, again.node_name_to_scope, qat,
                                            getattr(again.quantizer, "prepare_obs_or_fq_callback", None),
                                            what="prepare (reference)")
        except prepare_impl.AnnotationError as e2:
            result.problems.append(Problem(NUMERICS.name, "the annotations are not well formed (see the well_formed "
                                           f"check): {exc_line(e2)}", "skip"))
            return result
        except Exception as e2:  # noqa: BLE001
            result.problems.append(Problem(NUMERICS.name, f"{note}The reference prepare raised too: {exc_line(e2)}"))
            return result
    prepared.meta.update(original_meta)
    stage = "calibrating the prepared model"
    try:
        with torch.no_grad():
            for s in CALIBRATION_SEEDS:
                call_with_time_limit(prepared, timeout, *models.model_inputs(model_name, s), what="calibration")
        stage = "convert_pt2e"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = call_with_time_limit(convert_pt2e, timeout * (QAT_CONVERT_FACTOR if qat else 1), prepared,
                                             what="convert_pt2e")
            if qat:
                stage = "move_exported_model_to_eval"
                converted = move_exported_model_to_eval(converted)
        stage = "running the quantized model"
        float_model = _float_reference(model_name, qat)
        values = []
        for s in EVALUATION_SEEDS:
            inputs = models.model_inputs(model_name, s)
            with torch.no_grad():
                reference = _float_outputs(float_model(*inputs))
                actual = _float_outputs(call_with_time_limit(converted, timeout, *inputs, what="the quantized model"))
            if len(reference) != len(actual) or any(r.shape != a.shape for r, a in zip(reference, actual)):
                result.problems.append(Problem(NUMERICS.name, "the quantized model's outputs have other shapes than "
                                               f"the float model's: {[tuple(a.shape) for a in actual]} vs "
                                               f"{[tuple(r.shape) for r in reference]}"))
                return result
            if any(not torch.isfinite(a).all() for a in actual):
                result.problems.append(Problem(NUMERICS.name, f"{note}the quantized model's output is not finite"))
                return result
            values.append(sqnr_db(reference, actual))
    except Exception as e:  # noqa: BLE001 - reported
        result.problems.append(Problem(NUMERICS.name, f"{note}{stage} failed: {exc_line(e)}\n{where(e)}"))
        return result
    result.sqnr = min(values)
    floor = options.min_sqnr(qat)
    if result.sqnr < floor:
        result.problems.append(Problem(
            NUMERICS.name,
            f"{note}SQNR {result.sqnr:.1f} dB is below the minimum {floor:g} dB "
            f"({'--pt2e-qat-sqnr-min' if qat else '--pt2e-sqnr-min'}): the quantized model's output is far from the "
            "float model's"))
    elif note:
        result.stats["note"] = note.strip()
    return result
