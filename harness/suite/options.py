"""What a run of the quantizer suite is configured with: the defaults, the budget profiles (dev, ci, nightly) and
:class:`SuiteOptions`, which the plugin fills from command-line options and ini values."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

__all__ = [
    "DEFAULT_PREPARE",
    "DEFAULT_SQNR_MIN",
    "DEFAULT_QAT_SQNR_MIN",
    "DEFAULT_CORPUS",
    "Profile",
    "BUDGET_PROFILES",
    "SuiteOptions",
]

DEFAULT_PREPARE = "torchao.quantization.pt2e.prepare:prepare"
# Measured on harness.suite.subjects.models with torchao's XNNPACK (per-channel and per-tensor), X86Inductor,
# ArmInductor, Embedding and Composable quantizers: the lowest is 23.7 dB (XNNPACK on embedding_linear), most are
# 32-47 dB.
DEFAULT_SQNR_MIN = 15.0
# QAT (fake quants with moving-average observers, 8 calibration batches, no training): measured on the same models
# and quantizers, the lowest is 11.7 dB (torchao's XNNPACK on embedding_linear), most are 15-32 dB.
DEFAULT_QAT_SQNR_MIN = 10.0
DEFAULT_CORPUS = "pt2e-findings"


@dataclass(frozen=True)
class Profile:
    """Budgets of a run: hypothesis examples, graph size, per-call timeout, and the time allowed for shrinking."""

    examples: int
    max_nodes: int
    timeout: float
    shrink_seconds: float
    deterministic: bool


BUDGET_PROFILES: dict[str, Profile] = {
    "dev": Profile(examples=10, max_nodes=8, timeout=60.0, shrink_seconds=30.0, deterministic=False),
    "ci": Profile(examples=20, max_nodes=8, timeout=60.0, shrink_seconds=60.0, deterministic=True),
    "nightly": Profile(examples=300, max_nodes=16, timeout=120.0, shrink_seconds=300.0, deterministic=False),
}


@dataclass(frozen=True)
class SuiteOptions:
    """Everything a check needs besides the quantizer (the plugin fills it from options and ini values)."""

    prepare: str = DEFAULT_PREPARE
    sqnr_min: float = DEFAULT_SQNR_MIN
    qat_sqnr_min: float = DEFAULT_QAT_SQNR_MIN  # the numerics floor of QAT checks
    corpus: str = DEFAULT_CORPUS
    profile: str = "dev"
    examples: Optional[int] = None  # None: the profile's
    timeout: Optional[float] = None  # None: the profile's
    models: Optional[tuple[str, ...]] = None  # None: all of harness.suite.subjects.models
    seed: Optional[int] = None  # random graphs; None: fixed in deterministic profiles, else random
    hang_markers: Optional[str] = None  # directory telling other processes a quantizer hung; None: this process only

    @property
    def budget(self) -> Profile:
        """The profile's budget with ``examples`` and ``timeout`` overridden where set."""
        p = BUDGET_PROFILES[self.profile]
        return replace(
            p,
            examples=p.examples if self.examples is None else self.examples,
            timeout=p.timeout if self.timeout is None else self.timeout,
        )

    def min_sqnr(self, is_qat: bool) -> float:
        """The numerics floor: ``qat_sqnr_min`` for QAT, ``sqnr_min`` for PTQ."""
        return self.qat_sqnr_min if is_qat else self.sqnr_min
