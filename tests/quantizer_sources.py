"""The suite's source for a ready-made quantizer factory, shared by the suite's tests."""

from __future__ import annotations

import pytest

from harness.suite.source import QuantizerLoadError, QuantizerSource, load_quantizer_factory


def factory_source(name: str) -> QuantizerSource:
    """The source of ``harness.quantizers:NAME``; the test skips (with the reason) when a package is missing."""
    try:
        return load_quantizer_factory(f"harness.quantizers:{name}")
    except QuantizerLoadError as e:
        if e.unavailable:
            pytest.skip(str(e))
        raise
