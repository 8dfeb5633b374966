"""The derive-function opt-ins the ready-made ExecuTorch quantizers need: the qualified names of their bias derive
functions, to pass as ``--pt2e-allow-derive`` (or the ini list ``pt2e_allow_derive``) so that the suite's prepare
check can write their annotated graphs as cases (:mod:`harness.fx.derive_registry`).

The rule: each factory of :mod:`harness.suite.quantizers` whose quantizer annotates a bias with its own
``derive_qparams_fn`` is listed with exactly the functions it uses (ExecuTorch 1.5.1; kept true by
``tests/suite/test_allow_derive.py``). Names only: nothing is imported here.
"""

from __future__ import annotations

__all__ = ["ARM_BIAS", "CORTEX_M_BIAS", "CADENCE_BIAS", "DERIVE_OPT_INS", "derive_opt_ins"]

# the Arm quantizers define it inside QuantizationConfig.get_bias_qspec (a new function object per call)
ARM_BIAS = ("executorch.backends.arm.quantizer.quantization_config:"
            "QuantizationConfig.get_bias_qspec.<locals>._derive_qparams_fn")
CORTEX_M_BIAS = "executorch.backends.arm.quantizer.arm_quantizer_utils:_derive_bias_qparams_fn"
CADENCE_BIAS = "executorch.backends.cadence.aot.quantizer.utils:get_bias_qparams"

DERIVE_OPT_INS: dict[str, tuple[str, ...]] = {
    "executorch_arm_tosa": (ARM_BIAS,),
    "executorch_arm_ethosu": (ARM_BIAS,),
    "executorch_arm_vgf": (ARM_BIAS,),
    "executorch_cortex_m": (CORTEX_M_BIAS,),
    "executorch_cadence": (CADENCE_BIAS,),
}


def derive_opt_ins(factory: str) -> tuple[str, ...]:
    """The ``--pt2e-allow-derive`` values the factory ``factory`` (its name in :mod:`harness.suite.quantizers`, or
    ``harness.quantizers:NAME``) needs; ``()`` for the others."""
    return DERIVE_OPT_INS.get(factory.rpartition(":")[2], ())
