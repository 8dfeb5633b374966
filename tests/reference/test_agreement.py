"""The reference agrees with torchao on real quantizers' annotations: same sharing partition, same observer
configuration, same quantized output after calibration and ``convert_pt2e`` (issue #2)."""

from __future__ import annotations

import pytest
from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e, prepare_qat_pt2e

import prepare_impl
from harness import quantizers
from harness.check.canonical import canonical_form
from harness.check.compare import compare
from harness.check.numerics import compare_numerics
from harness.suite.subjects import models

PTQ_CASES = [
    ("xnnpack", "conv_bn_relu"),
    ("xnnpack", "residual"),
    ("xnnpack", "depthwise_separable"),
    ("xnnpack", "attention"),
    ("xnnpack", "mlp"),
    ("xnnpack_per_tensor", "residual"),
    ("x86_inductor", "residual"),
    ("x86_inductor", "conv_bn_relu"),
    ("composable", "embedding_linear"),
]


def _prepared(prepare, quantizer_name, model_name, is_qat=False):
    model = models.export_model(model_name)
    quantizer = quantizers.TORCHAO_FACTORIES[quantizer_name]()
    if is_qat and hasattr(quantizer, "STATIC_QAT_ONLY_OPS"):
        quantizer.STATIC_QAT_ONLY_OPS = []  # the models below have no batch norm; skips slow pattern exports
    prepared = prepare(model, quantizer)
    return model, prepared  # prepare edits `model` in place: it keeps the annotations canonical_form reads


def _assert_agree(quantizer_name, model_name, ours, theirs, is_qat):
    original_ref, ref = _prepared(ours, quantizer_name, model_name, is_qat)
    original_up, up = _prepared(theirs, quantizer_name, model_name, is_qat)
    canonical_ref = canonical_form(original_ref, ref)
    canonical_up = canonical_form(original_up, up)
    assert canonical_ref.groups, "the quantizer annotated nothing: the comparison would be empty"
    assert compare(canonical_up, canonical_ref) == []
    assert canonical_ref.to_json() == canonical_up.to_json()
    inputs = models.model_inputs(model_name)
    assert compare_numerics(up, ref, inputs) == []


@pytest.mark.parametrize("quantizer_name,model_name", PTQ_CASES, ids=[f"{q}-{m}" for q, m in PTQ_CASES])
def test_ptq_agrees_with_torchao(quantizer_name, model_name):
    if model_name not in models.model_names():
        pytest.fail(f"unknown model {model_name!r}: {models.model_names()}")
    _assert_agree(quantizer_name, model_name, prepare_impl.prepare_pt2e, prepare_pt2e, is_qat=False)


@pytest.mark.parametrize("model_name", ["attention", "mlp"])  # no batch norm: QAT conv-bn patterns are slow
def test_qat_agrees_with_torchao(model_name):
    _assert_agree("xnnpack", model_name, prepare_impl.prepare_qat_pt2e, prepare_qat_pt2e, is_qat=True)
