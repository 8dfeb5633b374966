"""The configuration variants of the ready-made quantizer factories (:mod:`harness.quantizers`): the ways a user
configures each quantizer through its public API, which the quantizer campaign fuzzes beside the default.

The protocol is :mod:`harness.suite.source`'s configuration rule: a factory's ``configs`` names its variants
(``"default"`` first), it takes ``config=NAME``, ``qat_configs`` names those with a QAT form, and a factory taking
``model`` is given the exported graph it will annotate. Here, per quantizer, the names (``*_CONFIGS``) and a
function configuring a new quantizer as one of them. Every variant is a configuration a careful user could choose
(the quantizer's own config helpers and setters, documented values only), so a finding under one is the
quantizer's. The variants that name modules (``module_name*``) name the first, third, fifth... submodule the graph's
nodes come from, in graph order (:func:`every_other_module`): a function of the graph's structure, the same when a
case replays.

Like :mod:`harness.quantizers`, this module imports nothing from the harness, and the harness never imports it.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["XNNPACK_CONFIGS", "XNNPACK_QAT_CONFIGS", "EXECUTORCH_XNNPACK_CONFIGS", "EXECUTORCH_XNNPACK_QAT_CONFIGS",
           "X86_CONFIGS", "X86_QAT_CONFIGS", "ARM_CONFIGS",
           "CADENCE_CONFIGS", "CADENCE_QAT_CONFIGS", "QNN_CONFIGS", "QNN_QAT_CONFIGS", "ENN_CONFIGS",
           "submodules", "every_other_module", "configure_xnnpack", "configure_x86", "arm_tosa_quantizer",
           "cadence_quantizer", "configure_qnn"]

XNNPACK_CONFIGS = ("default", "per_tensor", "dynamic", "dynamic_per_tensor", "module_type", "module_type_only",
                   "module_name", "module_name_only")
"""torchao's XNNPACK quantizer (its test copy ignores ``set_operator_type``: no variant of it)."""
EXECUTORCH_XNNPACK_CONFIGS = XNNPACK_CONFIGS + ("mixed_dynamic", "operator_type", "filter_function")
_SEVERAL_CONFIGS = ("module_type", "module_name", "module_name_only", "mixed_dynamic")
XNNPACK_QAT_CONFIGS = tuple(c for c in XNNPACK_CONFIGS if c not in _SEVERAL_CONFIGS)
EXECUTORCH_XNNPACK_QAT_CONFIGS = tuple(c for c in EXECUTORCH_XNNPACK_CONFIGS if c not in _SEVERAL_CONFIGS)
"""For QAT, XNNPACK matches its conv-bn patterns once per config it holds, each time exporting them anew (3 to 8 s
CPU on a graph with a batch norm): the variants holding several configs are fuzzed for PTQ only (their QAT code is
the same pattern code, run again under a filter)."""
X86_CONFIGS = ("default", "dynamic", "reduce_range", "module_type_only", "function_type_only", "skip_types",
               "module_name", "module_name_only", "linear_dynamic_fp16")
X86_QAT_CONFIGS = X86_CONFIGS[:-1]  # the fp16 weight config is PTQ only (and X86 refuses to mix QAT and PTQ)
ARM_CONFIGS = ("default", "per_tensor", "a16w8", "a8w4", "uint8_io", "legacy", "module_type", "module_name")
CADENCE_CONFIGS = ("default", "with_layer_norm", "wake_word", "fused_conv_relu", "w8a32_mixed", "with_softmax",
                   "a16_linear", "a16_conv", "a16_matmul")
CADENCE_QAT_CONFIGS = ("default", "wake_word", "fused_conv_relu")  # the classes that take is_qat
QNN_CONFIGS = ("default", "per_channel", "a16w8", "a16w4", "a16w16", "a8w4", "submodule_a16w8")
QNN_QAT_CONFIGS = ("default", "per_channel", "a16w8", "a16w4", "submodule_a16w8")  # QUANT_CONFIG_DICT's QAT entries
ENN_CONFIGS = ("default", "per_tensor")


def _unknown(config: str) -> ValueError:
    return ValueError(f"no configuration variant {config!r}")


def submodules(model: Any) -> list[tuple[str, str]]:
    """(name, type) of each submodule the nodes of ``model`` come from (their ``nn_module_stack``), in the order of
    the first node of each; none for ``None`` or a graph without module stacks."""
    found: dict[str, str] = {}
    for node in model.graph.nodes if model is not None else ():
        for path, kind in (node.meta.get("nn_module_stack") or {}).values():
            path = path[len("L['self']."):] if path.startswith("L['self'].") else path
            if path and path not in found:
                found[path] = kind if isinstance(kind, str) else f"{kind.__module__}.{kind.__qualname__}"
    return list(found.items())


def every_other_module(model: Any) -> list[str]:
    """The names of the first, third, fifth... of :func:`submodules` (the modules a module-name variant names)."""
    return [name for name, _ in submodules(model)[::2]]


def _in_submodule(node: Any) -> bool:
    """A filter function: the node comes from a submodule (not from the top-level module's own code)."""
    return any(path for path, _ in (node.meta.get("nn_module_stack") or {}).values())


def configure_xnnpack(quantizer: Any, get_config: Callable[..., Any], config: str, is_qat: bool, model: Any) -> Any:
    """``quantizer`` (torchao's or ExecuTorch's ``XNNPACKQuantizer``) configured as the variant ``config`` with its
    ``get_symmetric_quantization_config``: per-channel symmetric int8 unless said; ``dynamic*``: dynamic
    activations; ``module_type``: per-tensor, conv and linear modules per-channel; ``module_type_only``: only linear
    modules; ``module_name``: per-channel, the modules of :func:`every_other_module` per-tensor;
    ``module_name_only``: only those, per-channel; ExecuTorch's also ``mixed_dynamic`` (linear modules dynamic, the
    rest static), ``operator_type`` (only linear, dynamic, and conv2d ops) and ``filter_function`` (only nodes from
    submodules)."""
    import torch

    def cfg(per_channel: bool = True, dynamic: bool = False) -> Any:
        return get_config(is_per_channel=per_channel, is_qat=is_qat, is_dynamic=dynamic)

    if config in ("default", "per_tensor", "dynamic", "dynamic_per_tensor"):
        return quantizer.set_global(cfg(config in ("default", "dynamic"), config.startswith("dynamic")))
    if config == "module_type":
        return quantizer.set_global(cfg(False)).set_module_type(torch.nn.Conv2d, cfg()).set_module_type(
            torch.nn.Linear, cfg())
    if config == "module_type_only":
        return quantizer.set_module_type(torch.nn.Linear, cfg())
    if config in ("module_name", "module_name_only"):
        if config == "module_name":
            quantizer.set_global(cfg())
        for name in every_other_module(model):
            quantizer.set_module_name(name, cfg(config == "module_name_only"))
        return quantizer
    if config == "mixed_dynamic":
        return quantizer.set_global(cfg()).set_module_type(torch.nn.Linear, cfg(True, True))
    if config == "operator_type":
        return quantizer.set_operator_type(torch.ops.aten.linear.default, cfg(True, True)).set_operator_type(
            torch.ops.aten.conv2d.default, cfg())
    if config == "filter_function":
        return quantizer.set_global(cfg()).set_filter_function(_in_submodule)
    raise _unknown(config)


def configure_x86(mod: Any, config: str, is_qat: bool, model: Any) -> Any:
    """A new ``X86InductorQuantizer`` of module ``mod`` configured as the variant ``config``: the default config
    (``get_default_x86_inductor_quantization_config``) globally, ``dynamic`` or with ``reduce_range``;
    ``module_type_only``: only linear and conv2d modules; ``function_type_only``: only ``F.linear`` and
    ``torch.matmul``; ``skip_types``: all but conv2d modules and ``torch.cat`` (``None`` configs);
    ``module_name``: all but the modules of :func:`every_other_module`; ``module_name_only``: only those;
    ``linear_dynamic_fp16``: linear modules with ``get_x86_inductor_linear_dynamic_fp16_config``, the rest default."""
    import torch
    import torch.nn.functional as F

    quantizer = mod.X86InductorQuantizer()
    cfg = mod.get_default_x86_inductor_quantization_config(
        is_qat=is_qat, is_dynamic=config == "dynamic", reduce_range=config == "reduce_range")
    if config in ("default", "dynamic", "reduce_range"):
        return quantizer.set_global(cfg)
    if config == "module_type_only":
        return quantizer.set_module_type_qconfig(torch.nn.Linear, cfg).set_module_type_qconfig(torch.nn.Conv2d, cfg)
    if config == "function_type_only":
        return quantizer.set_function_type_qconfig(F.linear, cfg).set_function_type_qconfig(torch.matmul, cfg)
    if config == "skip_types":
        return quantizer.set_global(cfg).set_module_type_qconfig(torch.nn.Conv2d, None).set_function_type_qconfig(
            torch.cat, None)
    if config in ("module_name", "module_name_only"):
        if config == "module_name":
            quantizer.set_global(cfg)
        for name in every_other_module(model):
            quantizer.set_module_name_qconfig(name, cfg if config == "module_name_only" else None)
        return quantizer
    if config == "linear_dynamic_fp16":
        return quantizer.set_global(cfg).set_module_type_qconfig(torch.nn.Linear,
                                                                  mod.get_x86_inductor_linear_dynamic_fp16_config())
    raise _unknown(config)


def arm_tosa_quantizer(q: Any, spec: Any, config: str, is_qat: bool, model: Any) -> Any:
    """A new Arm ``TOSAQuantizer`` (module ``q``, ``spec`` the TOSA specification module) configured as the variant
    ``config``: ``get_symmetric_quantization_config`` (per-channel) globally, or ``per_tensor``; ``a16w8``/``a8w4``:
    ``get_symmetric_a16w8_quantization_config``/``get_symmetric_a8w4_quantization_config`` (``TOSA-1.0+INT+int16``
    for 16-bit activations); ``uint8_io``: uint8 model inputs and outputs (``set_io``); ``legacy``: the deprecated
    non-composable implementation (``use_composable_quantizer=False``); ``module_type``: linear modules not
    quantized, conv2d ones per-tensor; ``module_name``: the modules of :func:`every_other_module` 16-bit (a16w8)."""
    import torch

    sixteen = config in ("a16w8", "module_name")
    tosa = spec.TosaSpecification.create_from_string("TOSA-1.0+INT" + ("+int16" if sixteen else ""))
    quantizer = q.TOSAQuantizer(tosa, use_composable_quantizer=config != "legacy")
    cfg = q.get_symmetric_quantization_config(is_per_channel=config != "per_tensor", is_qat=is_qat)
    if config in ("default", "per_tensor", "legacy"):
        return quantizer.set_global(cfg)
    if config == "a16w8":
        return quantizer.set_global(q.get_symmetric_a16w8_quantization_config(is_per_channel=True, is_qat=is_qat))
    if config == "a8w4":
        from executorch.backends.arm.quantizer.arm_quantizer import get_symmetric_a8w4_quantization_config

        return quantizer.set_global(get_symmetric_a8w4_quantization_config(is_per_channel=True, is_qat=is_qat))
    if config == "uint8_io":
        return quantizer.set_global(cfg).set_io(q.get_uint8_io_quantization_config(is_qat=is_qat))
    if config == "module_type":
        per_tensor = q.get_symmetric_quantization_config(is_per_channel=False, is_qat=is_qat)
        return quantizer.set_global(cfg).set_module_type(torch.nn.Linear, None).set_module_type(torch.nn.Conv2d,
                                                                                                 per_tensor)
    if config == "module_name":
        quantizer.set_global(cfg)
        a16w8 = q.get_symmetric_a16w8_quantization_config(is_per_channel=True, is_qat=is_qat)
        for name in every_other_module(model):
            quantizer.set_module_name(name, a16w8)
        return quantizer
    raise _unknown(config)


_CADENCE_CLASSES = {"default": "CadenceDefaultQuantizer", "with_layer_norm": "CadenceWithLayerNormQuantizer",
                    "wake_word": "CadenceWakeWordQuantizer", "fused_conv_relu": "CadenceFusedConvReluQuantizer",
                    "w8a32_mixed": "CadenceW8A32MixedQuantizer", "with_softmax": "CadenceWithSoftmaxQuantizer",
                    "a16_linear": "CadenceWith16BitLinearActivationsQuantizer",
                    "a16_conv": "CadenceWith16BitConvActivationsQuantizer",
                    "a16_matmul": "CadenceWith16BitMatmulActivationsQuantizer"}


def cadence_quantizer(mod: Any, config: str, is_qat: bool) -> Any:
    """A new Cadence quantizer of module ``mod``: the variant ``config`` is one of ExecuTorch's ready-made Cadence
    quantizer classes (``CadenceDefaultQuantizer``, ``CadenceWithLayerNormQuantizer``, ``CadenceWakeWordQuantizer``,
    ``CadenceFusedConvReluQuantizer``, ``CadenceW8A32MixedQuantizer``, ``CadenceWithSoftmaxQuantizer`` and the
    three ``CadenceWith16Bit*ActivationsQuantizer``), with ``is_qat`` for those that take it."""
    if config not in _CADENCE_CLASSES:
        raise _unknown(config)
    cls = getattr(mod, _CADENCE_CLASSES[config])
    return cls(is_qat=is_qat) if config in CADENCE_QAT_CONFIGS else cls()


def configure_qnn(quantizer: Any, mod: Any, config: str, is_qat: bool) -> Any:
    """``quantizer`` (a new ``QnnQuantizer`` of module ``mod``) configured as the variant ``config`` through
    ``set_default_quant_config``: 8-bit activations and weights (``default``; PTQ as constructed), per-channel conv
    and linear weights, or ``a16w8``/``a16w4``/``a16w16``/``a8w4`` (``QuantDtype``); ``submodule_a16w8``: the
    default, and 16-bit activations in linear modules (``set_submodule_qconfig_list``)."""
    dtypes = {"default": "use_8a8w", "per_channel": "use_8a8w", "a16w8": "use_16a8w", "a16w4": "use_16a4w",
              "a16w16": "use_16a16w", "a8w4": "use_8a4w", "submodule_a16w8": "use_8a8w"}
    if config not in dtypes:
        raise _unknown(config)
    if config == "default" and not is_qat:
        return quantizer
    per_channel = config == "per_channel"
    quantizer.set_default_quant_config(getattr(mod.QuantDtype, dtypes[config]), is_qat=is_qat,
                                       is_conv_per_channel=per_channel, is_linear_per_channel=per_channel)
    if config == "submodule_a16w8":
        quantizer.set_submodule_qconfig_list([(mod.get_submodule_type_predicate("Linear"),
                                               mod.ModuleQConfig(mod.QuantDtype.use_16a8w, is_qat=is_qat))])
    return quantizer
