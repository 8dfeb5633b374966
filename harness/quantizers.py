"""Factories of real, configured quantizers, for the quantizer suite and its tests: called without arguments they
give the PTQ configuration; those whose quantizer has a QAT configuration take ``is_qat`` (``is_qat=True`` gives it,
and the suite checks both; :data:`QAT_FACTORIES` lists them).

Name one on the command line: ``pytest --pt2e-quantizer=harness.quantizers:xnnpack``. Each call returns a new
quantizer. The torchao ones are always available; the ExecuTorch ones (``executorch_*``) raise
:class:`QuantizerUnavailable` (an ``ImportError``) when ExecuTorch is not installed, and the suite reports the
quantizer as skipped.

What the suite needs to know about a factory are attributes of the factory: ``export_strict = True``, its models
and random graphs are exported with ``strict=True``; ``allow_derive``, the qualified names of the bias derive
functions its quantizer uses, to pass as ``--pt2e-allow-derive`` (or the ini list ``pt2e_allow_derive``) so that
the prepare check can write its annotated graphs as cases (ExecuTorch 1.5.1; kept true by
``tests/suite/test_allow_derive.py``; names only, nothing is imported for them). :func:`derive_opt_ins` reads it.
``configs`` (and ``qat_configs``): the configuration variants the quantizer campaign fuzzes (``config=NAME``, and
``model=`` the graph for those naming modules; :mod:`harness.suite.source`'s configuration rule, the variants in
:mod:`harness.quantizer_variants`); called without ``config``, a factory gives its default configuration, the one
the suite (``--pt2e-quantizer``) checks.

This module stands outside the harness's layers, like :mod:`harness.mutants`: it imports nothing from the harness
(but its sibling :mod:`harness.quantizer_variants`), and the harness names it only by string
(``harness.quantizers:NAME``).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable

import harness.quantizer_speedups as speedups
import harness.quantizer_variants as variants

__all__ = ["QuantizerUnavailable", "xnnpack", "xnnpack_per_tensor", "x86_inductor", "arm_inductor", "embedding",
           "composable", "executorch_xnnpack", "executorch_xnnpack_plain", "executorch_vulkan",
           "executorch_vulkan_dynamic", "executorch_samsung_enn", "executorch_example", "executorch_qnn",
           "executorch_cadence", "executorch_arm_tosa", "executorch_arm_ethosu", "executorch_arm_vgf",
           "executorch_cortex_m", "executorch_coreml", "executorch_openvino", "TORCHAO_FACTORIES",
           "EXECUTORCH_FACTORIES", "EXECUTORCH_SLOW", "QAT_FACTORIES", "ARM_BIAS", "CORTEX_M_BIAS", "CADENCE_BIAS",
           "DERIVE_OPT_INS", "derive_opt_ins"]


class QuantizerUnavailable(ImportError):
    """The package a quantizer factory needs is not installed (the suite skips that quantizer)."""


def _torchao_xnnpack(is_per_channel: bool, is_qat: bool, config: str = "default", model: Any = None) -> Any:
    import torchao.testing.pt2e._xnnpack_quantizer_utils as utils
    from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

    class _XNNPACKQuantizerSkippingUnmatchableBn(XNNPACKQuantizer):
        """torchao's XNNPACKQuantizer whose QAT-only conv-bn patterns export nothing on a graph without a batch
        norm (:func:`harness.quantizer_speedups.conv_bn_annotators_without_exports`) and each pattern once per
        process on a graph with one (:func:`harness.pattern_exports.exported_once`)."""

        def annotate(self, model: Any) -> Any:
            return speedups.annotate_fast(super().annotate, model, utils)

    if config == "default" and not is_per_channel:
        config = "per_tensor"
    return variants.configure_xnnpack(_XNNPACKQuantizerSkippingUnmatchableBn(), get_symmetric_quantization_config,
                                      config, is_qat, model)


def xnnpack(is_qat: bool = False, config: str = "default", model: Any = None) -> Any:
    """torchao's test copy of the XNNPACK quantizer, symmetric int8, per-channel weights.

    For QAT, its annotate() matches four conv-bn patterns, each exported anew on every call (about 3 s CPU a call);
    the instance returned here leaves them out when the graph has no ``batch_norm`` node, where they cannot match:
    the annotations are the same (tests/test_torchao_xnnpack_qat.py) and annotate() takes milliseconds, as for
    :func:`executorch_xnnpack`. On a graph with a batch norm it runs them all, as upstream does. Variants:
    :func:`harness.quantizer_variants.configure_xnnpack`."""
    return _torchao_xnnpack(True, is_qat, config, model)


xnnpack.configs = variants.XNNPACK_CONFIGS  # type: ignore[attr-defined]
xnnpack.qat_configs = variants.XNNPACK_QAT_CONFIGS  # type: ignore[attr-defined]


def xnnpack_per_tensor(is_qat: bool = False) -> Any:
    """The XNNPACK quantizer with per-tensor weights (the conv-bn patterns skipped as by :func:`xnnpack`)."""
    return _torchao_xnnpack(False, is_qat)


def x86_inductor(is_qat: bool = False, config: str = "default", model: Any = None) -> Any:
    """torchao's ``X86InductorQuantizer`` with its default (uint8 activations, per-channel int8 weights) config.
    Variants: :func:`harness.quantizer_variants.configure_x86`."""
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer

    return variants.configure_x86(x86_inductor_quantizer, config, is_qat, model)


x86_inductor.configs = variants.X86_CONFIGS  # type: ignore[attr-defined]
x86_inductor.qat_configs = variants.X86_QAT_CONFIGS  # type: ignore[attr-defined]


def arm_inductor(is_qat: bool = False) -> Any:
    """torchao's ``ArmInductorQuantizer`` with its default (int8, per-tensor weights) config."""
    from torchao.quantization.pt2e.quantizer.arm_inductor_quantizer import (
        ArmInductorQuantizer,
        get_default_arm_inductor_quantization_config,
    )

    return ArmInductorQuantizer().set_global(get_default_arm_inductor_quantization_config(is_qat=is_qat))


def embedding() -> Any:
    """torchao's ``EmbeddingQuantizer``: uint8 per-channel weight-only quantization of embedding tables."""
    from torchao.quantization.pt2e.quantizer.embedding_quantizer import EmbeddingQuantizer

    return EmbeddingQuantizer()


def composable() -> Any:
    """A ``ComposableQuantizer`` of the embedding quantizer followed by XNNPACK (the documented combination)."""
    from torchao.quantization.pt2e.quantizer import ComposableQuantizer

    return ComposableQuantizer([embedding(), xnnpack()])


_INSTALL_HINT = "pip install --no-deps executorch==1.5.1 && pip install -e '.[executorch]'"


def _executorch(module: str, what: str, hint: str = _INSTALL_HINT) -> Any:
    """Import ``module``; a missing package (executorch, or one its backend needs) is :class:`QuantizerUnavailable`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise QuantizerUnavailable(
            f"{what} needs ExecuTorch and the packages its backend imports ({hint}): {e}") from e


_ARM_HINT = _INSTALL_HINT + " (the Arm quantizers need tosa-tools==2026.5.0, in the extra)"

# the bias derive functions of the factories' quantizers (their allow_derive); the Arm quantizers define theirs
# inside QuantizationConfig.get_bias_qspec (a new function object per call)
ARM_BIAS = ("executorch.backends.arm.quantizer.quantization_config:"
            "QuantizationConfig.get_bias_qspec.<locals>._derive_qparams_fn")
CORTEX_M_BIAS = "executorch.backends.arm.quantizer.arm_quantizer_utils:_derive_bias_qparams_fn"
CADENCE_BIAS = "executorch.backends.cadence.aot.quantizer.utils:get_bias_qparams"


def executorch_xnnpack(is_qat: bool = False, config: str = "default", model: Any = None) -> Any:
    """ExecuTorch's XNNPACK quantizer (``executorch.backends.xnnpack``), symmetric int8, per-channel weights.

    ExecuTorch 1.5.1 runs its QAT-only conv-bn patterns (``conv_bn``, ``conv_bn_relu``, ``conv_transpose_bn``,
    ``conv_transpose_bn_relu``) with every static config too, and each annotate() then does 12 strict exports of
    small patterns (3 to 8 s CPU). On a graph without a ``batch_norm`` node, where they cannot match (prepare_pt2e
    fuses conv-bn before annotating), the instance returned here has them do only their dead-code elimination
    (:func:`harness.quantizer_speedups.conv_bn_annotators_without_exports`, during its annotate() only): the graph
    and the annotations are upstream's (see tests/suite/test_executorch_quantizers.py) and annotate() takes
    milliseconds. On a graph with a batch norm it runs them all, as upstream does, each pattern exported once per
    process (:func:`harness.pattern_exports.exported_once`).
    Variants: :func:`harness.quantizer_variants.configure_xnnpack`.
    """
    mod = _executorch("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", "executorch_xnnpack")

    utils = importlib.import_module(f"{mod.__name__}_utils")  # xnnpack_quantizer_utils

    class _XNNPACKQuantizerSkippingUnmatchableBn(mod.XNNPACKQuantizer):
        """ExecuTorch's XNNPACKQuantizer whose conv-bn patterns export nothing on a graph without a batch norm, and
        each pattern once per process on a graph with one."""

        def annotate(self, model: Any) -> Any:
            return speedups.annotate_fast(super().annotate, model, utils)

    return variants.configure_xnnpack(_XNNPACKQuantizerSkippingUnmatchableBn(), mod.get_symmetric_quantization_config,
                                      config, is_qat, model)


executorch_xnnpack.configs = variants.EXECUTORCH_XNNPACK_CONFIGS  # type: ignore[attr-defined]
executorch_xnnpack.qat_configs = variants.EXECUTORCH_XNNPACK_QAT_CONFIGS  # type: ignore[attr-defined]


def executorch_xnnpack_plain(is_qat: bool = False) -> Any:
    """ExecuTorch's XNNPACK quantizer exactly as upstream ships it (symmetric int8, per-channel weights); slow:
    every annotate() costs 3 to 8 s CPU (see :func:`executorch_xnnpack`)."""
    mod = _executorch("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", "executorch_xnnpack_plain")
    return mod.XNNPACKQuantizer().set_global(mod.get_symmetric_quantization_config(is_per_channel=True, is_qat=is_qat))


def executorch_vulkan() -> Any:
    """ExecuTorch's Vulkan quantizer, static 8-bit weight-only config (it quantizes ``linear`` only)."""
    mod = _executorch("executorch.backends.vulkan.quantizer.vulkan_quantizer", "executorch_vulkan")
    return mod.VulkanQuantizer().set_global(mod.get_symmetric_quantization_config(is_dynamic=False, weight_bits=8))


def executorch_vulkan_dynamic() -> Any:
    """ExecuTorch's Vulkan quantizer, dynamic 8-bit config (``linear`` only)."""
    mod = _executorch("executorch.backends.vulkan.quantizer.vulkan_quantizer", "executorch_vulkan_dynamic")
    return mod.VulkanQuantizer().set_global(mod.get_symmetric_quantization_config(is_dynamic=True, weight_bits=8))


def executorch_samsung_enn(is_qat: bool = False, config: str = "default") -> Any:
    """ExecuTorch's Samsung Exynos quantizer (``EnnQuantizer``), its defaults: A8W8, per-channel weights (QAT through
    ``setup_quant_params``); the variant ``per_tensor``: per-tensor weights."""
    mod = _executorch("executorch.backends.samsung.quantizer.quantizer", "executorch_samsung_enn")
    if config not in variants.ENN_CONFIGS:
        raise ValueError(f"no configuration variant {config!r}")
    quantizer = mod.EnnQuantizer()
    if is_qat or config != "default":
        quantizer.setup_quant_params(mod.Precision.A8W8, is_per_channel=config == "default", is_qat=is_qat)
    return quantizer


executorch_samsung_enn.configs = variants.ENN_CONFIGS  # type: ignore[attr-defined]


def executorch_example() -> Any:
    """ExecuTorch's ``ExampleQuantizer`` (``executorch.backends.example``): uint8 everywhere. It prints each
    weight node it annotates to stdout."""
    mod = _executorch("executorch.backends.example.example_quantizer", "executorch_example")
    return mod.ExampleQuantizer()


def executorch_qnn(is_qat: bool = False, config: str = "default") -> Any:
    """ExecuTorch's Qualcomm ``QnnQuantizer``, its defaults (HTP backend, SM8750, 8-bit activations and weights,
    PTQ; QAT through ``set_default_quant_config(use_8a8w, is_qat=True)``); works without the QNN SDK.

    ``QnnQuantizer()`` turns MKLDNN off for the whole process on an AMD host when ``py-cpuinfo`` is installed
    (``torch.backends.mkldnn.enabled = False``; executorch's ``disable_mkldnn_on_amd``, a workaround for MKLDNN
    crashes on some AMD hosts when lowering). Only the constructor does that, so this factory restores the flag
    afterwards: checking the quantizer must not change how the rest of the session runs. Variants:
    :func:`harness.quantizer_variants.configure_qnn`.
    """
    import torch

    mod = _executorch("executorch.backends.qualcomm.quantizer.quantizer", "executorch_qnn")
    was = torch.backends.mkldnn.enabled
    try:
        quantizer = mod.QnnQuantizer()
    finally:
        if torch.backends.mkldnn.enabled != was and not torch.backends.flags_frozen():
            torch.backends.mkldnn.enabled = was
    return variants.configure_qnn(quantizer, mod, config, is_qat)


executorch_qnn.configs = variants.QNN_CONFIGS  # type: ignore[attr-defined]
executorch_qnn.qat_configs = variants.QNN_QAT_CONFIGS  # type: ignore[attr-defined]


def executorch_cadence(is_qat: bool = False, config: str = "default") -> Any:
    """ExecuTorch's ``CadenceDefaultQuantizer`` (int8, int32 derived bias). It matches on ``source_fn_stack``, so
    the suite exports its models with ``strict=True`` (:attr:`export_strict`); non-strict it annotates nothing.
    Variants: the other Cadence quantizer classes (:func:`harness.quantizer_variants.cadence_quantizer`)."""
    mod = _executorch("executorch.backends.cadence.aot.quantizer.quantizer", "executorch_cadence")
    return variants.cadence_quantizer(mod, config, is_qat)


executorch_cadence.configs = variants.CADENCE_CONFIGS  # type: ignore[attr-defined]
executorch_cadence.qat_configs = variants.CADENCE_QAT_CONFIGS  # type: ignore[attr-defined]


executorch_cadence.export_strict = True  # type: ignore[attr-defined]
executorch_cadence.allow_derive = (CADENCE_BIAS,)  # type: ignore[attr-defined]


def _arm_quantizer_module(what: str) -> Any:
    return _executorch("executorch.backends.arm.quantizer", what, _ARM_HINT)


def executorch_arm_tosa(is_qat: bool = False, config: str = "default", model: Any = None) -> Any:
    """ExecuTorch's Arm ``TOSAQuantizer`` for ``TOSA-1.0+INT``, symmetric int8, per-channel weights (needs
    tosa-tools). Variants: :func:`harness.quantizer_variants.arm_tosa_quantizer`."""
    q = _arm_quantizer_module("executorch_arm_tosa")
    spec = _executorch("executorch.backends.arm.tosa.specification", "executorch_arm_tosa", _ARM_HINT)
    return variants.arm_tosa_quantizer(q, spec, config, is_qat, model)


executorch_arm_tosa.allow_derive = (ARM_BIAS,)  # type: ignore[attr-defined]
executorch_arm_tosa.configs = variants.ARM_CONFIGS  # type: ignore[attr-defined]


def executorch_arm_ethosu(is_qat: bool = False) -> Any:
    """ExecuTorch's Arm ``EthosUQuantizer`` for an Ethos-U55 with 128 MACs, symmetric int8, per-channel weights
    (needs tosa-tools)."""
    q = _arm_quantizer_module("executorch_arm_ethosu")
    ethosu = _executorch("executorch.backends.arm.ethosu", "executorch_arm_ethosu", _ARM_HINT)
    return q.EthosUQuantizer(ethosu.EthosUCompileSpec("ethos-u55-128")).set_global(
        q.get_symmetric_quantization_config(is_per_channel=True, is_qat=is_qat))


executorch_arm_ethosu.allow_derive = (ARM_BIAS,)  # type: ignore[attr-defined]


def executorch_arm_vgf(is_qat: bool = False) -> Any:
    """ExecuTorch's Arm ``VgfQuantizer`` for ``TOSA-1.0+INT``, symmetric int8, per-channel weights (needs
    tosa-tools)."""
    q = _arm_quantizer_module("executorch_arm_vgf")
    vgf = _executorch("executorch.backends.arm.vgf", "executorch_arm_vgf", _ARM_HINT)
    return q.VgfQuantizer(vgf.VgfCompileSpec("TOSA-1.0+INT")).set_global(
        q.get_symmetric_quantization_config(is_per_channel=True, is_qat=is_qat))


executorch_arm_vgf.allow_derive = (ARM_BIAS,)  # type: ignore[attr-defined]


def executorch_cortex_m() -> Any:
    """ExecuTorch's ``CortexMQuantizer``, its defaults (needs tosa-tools). Its transform_for_annotation() fails on
    a graph that still calls torch.export's ``_guards_fn``; the suite's exports drop that call."""
    mod = _executorch("executorch.backends.cortex_m.quantizer.quantizer", "executorch_cortex_m", _ARM_HINT)
    return mod.CortexMQuantizer()


executorch_cortex_m.allow_derive = (CORTEX_M_BIAS,)  # type: ignore[attr-defined]


def executorch_coreml() -> Any:
    """ExecuTorch's ``CoreMLQuantizer`` with ExecuTorch's ``coreml_8a_c8w`` recipe (uint8 activations, per-channel
    int8 weights). Needs ``coremltools==9.0``. SLOW: every annotate() does 405 strict exports of small patterns,
    about 100 s CPU."""
    import torch

    coreml = _executorch("executorch.backends.apple.coreml.quantizer", "executorch_coreml",
                         _INSTALL_HINT + " && pip install coremltools==9.0")
    cfg = _executorch("coremltools.optimize.torch.quantization.quantization_config", "executorch_coreml",
                      "pip install coremltools==9.0")
    return coreml.CoreMLQuantizer(cfg.LinearQuantizerConfig.from_dict({"global_config": {
        "quantization_scheme": cfg.QuantizationScheme.affine, "activation_dtype": torch.quint8,
        "weight_dtype": torch.qint8, "weight_per_channel": True}}))


def executorch_openvino() -> Any:
    """ExecuTorch's ``OpenVINOQuantizer``, its defaults (INT8_SYM). Needs openvino<2026, nncf==3.2.0 and
    pytorch-tokenizers (with tokenizers, sentencepiece, tiktoken): a large install."""
    mod = _executorch("executorch.backends.openvino.quantizer", "executorch_openvino",
                      _INSTALL_HINT + " && pip install 'openvino<2026' nncf==3.2.0 && pip install --no-deps "
                      "'pytorch-tokenizers>=1.5.0' tokenizers sentencepiece tiktoken")
    return mod.OpenVINOQuantizer()


TORCHAO_FACTORIES: dict[str, Callable[[], Any]] = {
    "xnnpack": xnnpack,
    "xnnpack_per_tensor": xnnpack_per_tensor,
    "x86_inductor": x86_inductor,
    "arm_inductor": arm_inductor,
    "embedding": embedding,
    "composable": composable,
}

EXECUTORCH_FACTORIES: dict[str, Callable[[], Any]] = {
    "executorch_xnnpack": executorch_xnnpack,
    "executorch_xnnpack_plain": executorch_xnnpack_plain,
    "executorch_vulkan": executorch_vulkan,
    "executorch_vulkan_dynamic": executorch_vulkan_dynamic,
    "executorch_samsung_enn": executorch_samsung_enn,
    "executorch_example": executorch_example,
    "executorch_qnn": executorch_qnn,
    "executorch_cadence": executorch_cadence,
    "executorch_arm_tosa": executorch_arm_tosa,
    "executorch_arm_ethosu": executorch_arm_ethosu,
    "executorch_arm_vgf": executorch_arm_vgf,
    "executorch_cortex_m": executorch_cortex_m,
    "executorch_coreml": executorch_coreml,
    "executorch_openvino": executorch_openvino,
}
"""ExecuTorch 1.5.1's quantizers that need no vendor SDK (MediaTek's and NXP's do, and are left out). Each raises
:class:`QuantizerUnavailable` when a package it needs is missing. ``executorch_coreml`` (about 100 s CPU per
annotate) and ``executorch_openvino`` (a 400 MB install) are too slow or large for per-change CI."""
EXECUTORCH_SLOW = frozenset({"executorch_coreml", "executorch_openvino", "executorch_xnnpack_plain"})

QAT_FACTORIES = frozenset(name for name, f in {**TORCHAO_FACTORIES, **EXECUTORCH_FACTORIES}.items()
                          if "is_qat" in inspect.signature(f).parameters)
"""The factories that take ``is_qat`` (the quantizer has a QAT configuration). Not QAT: ``embedding`` and
``composable`` (torchao's EmbeddingQuantizer is weight-only PTQ), Vulkan (its config sets ``is_qat=False``),
``executorch_example``, Cortex-M (no QAT configuration), CoreML (its recipe here is a PTQ one) and OpenVINO."""

DERIVE_OPT_INS: dict[str, tuple[str, ...]] = {
    name: f.allow_derive for name, f in {**TORCHAO_FACTORIES, **EXECUTORCH_FACTORIES}.items()
    if getattr(f, "allow_derive", ())}
"""The factories with derive-function opt-ins and their ``allow_derive`` (the Arm ones, Cortex-M, Cadence)."""


def derive_opt_ins(factory: str) -> tuple[str, ...]:
    """The ``--pt2e-allow-derive`` values the factory ``factory`` (its name here, or ``harness.quantizers:NAME``)
    needs: its ``allow_derive``; ``()`` for the others."""
    return DERIVE_OPT_INS.get(factory.rpartition(":")[2], ())
