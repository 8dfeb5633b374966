"""Forwarding modules: a module kept at an old public name whose attributes are those of the module where the code
now lives (``harness.quantizers``), resolved on first use."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def forward(home: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a module that forwards every attribute to module ``home``."""

    def __getattr__(name: str) -> Any:
        return getattr(importlib.import_module(home), name)

    def __dir__() -> list[str]:
        return dir(importlib.import_module(home))

    return __getattr__, __dir__
