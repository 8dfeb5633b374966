"""Verification and fuzzing harness for the PT2E quantization prepare step: the public API.

The names below are what a user of the harness needs; each is loaded on first use (``import harness`` stays
light, which matters because pytest loads the ``pt2e`` plugin, ``harness.plugin``, in every run). Where each one
lives is in the table; the layers are described in docs/architecture.md.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that is its one home
_EXPORTS: dict[str, str] = {
    # the differential check of one case, and the candidate loader
    "check_case": "harness.check.run",
    "load_function": "harness.check.run",
    # invariants of a prepared model
    "CHECKS": "harness.check.invariants",
    "CheckContext": "harness.check.invariants",
    "Violation": "harness.check.invariants",
    "check_all": "harness.check.invariants",
    # canonical form of a prepared model, and comparing two
    "canonical_form": "harness.check.canonical",
    "compare": "harness.check.compare",
    # cases on disk (JSON, never pickle)
    "load_case": "harness.case.files",
    "save_case": "harness.case.files",
    "iter_cases": "harness.case.files",
    # building a GraphModule from a case, and a case from an annotated GraphModule
    "build": "harness.fx.build",
    "extract_case": "harness.fx.extract",
    # the fuzz campaign
    "CampaignConfig": "harness.fuzz.campaign",
    "run_campaign": "harness.fuzz.launch",
}
_MODULES = {"strategies": "harness.strategies", "case": "harness.case"}

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
