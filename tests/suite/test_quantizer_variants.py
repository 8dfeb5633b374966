"""Every configuration variant of every ready-made quantizer factory (``harness.quantizers``, the variants in
``harness.quantizer_variants``) constructs, and annotates a small model as ``prepare_pt2e`` runs it (and, for one
with a QAT form, as ``prepare_qat_pt2e`` runs it) without an error: a variant is a configuration a sound user could
choose, so the campaign's findings under it are the quantizer's. A quantizer whose package is not installed skips.
"""

from __future__ import annotations

import pytest

from harness import quantizers as q
from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.source import config_variant, make_quantizer, qat_configs, qat_variant, quantizer_configs
from harness.suite.subjects import models
from quantizer_sources import factory_source

pytestmark = pytest.mark.slow  # ExecuTorch's import and the quantizers' own pattern exports: seconds each

WITH_VARIANTS = [name for name, f in {**q.TORCHAO_FACTORIES, **q.EXECUTORCH_FACTORIES}.items()
                 if getattr(f, "configs", None)]
MODELS = ("mlp", "attention")  # linear, matmul, softmax, layer norm: something for every variant to annotate


def test_the_factories_the_issue_names_declare_variants():
    assert {"xnnpack", "x86_inductor", "executorch_xnnpack", "executorch_arm_tosa", "executorch_cadence",
            "executorch_qnn", "executorch_samsung_enn"} <= set(WITH_VARIANTS)


@pytest.mark.parametrize("name", WITH_VARIANTS)
def test_every_variant_constructs_and_annotates_a_small_model_without_an_error(name):
    source = factory_source(name)
    configs = quantizer_configs(source)
    assert len(configs) > 1 and set(qat_configs(source)) <= set(configs)
    annotated = set()
    for is_qat, names in ((False, configs), (True, qat_configs(source))):
        base = qat_variant(source) if is_qat else source
        for config in names:
            make_quantizer(config_variant(base, config))  # without a graph (the campaign's reach tracer does this)
            for model in MODELS[:1] if is_qat else MODELS:
                gm = models.export_model(model, strict=source.export_strict, train=is_qat)
                ann = run_quantizer(gm, config_variant(base, config, gm), 0, f"model {model!r}")
                errors = [p.message for p in ann.problems if p.level == "error"]
                assert not errors, f"{name} [{config}]{' [qat]' * is_qat} on {model}: {errors}"
                if ann.count:
                    annotated.add(config)
    assert len(annotated) > len(configs) // 2, f"most variants annotate something: only {sorted(annotated)}"
