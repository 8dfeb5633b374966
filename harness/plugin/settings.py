"""The plugin's per-session state, read by the hooks and the items alike: the option values (command line first,
then ini) stored at configure time, the :class:`~harness.suite.options.SuiteOptions` they make, and the quantizers
loaded once per session.

Importing this module stays cheap (no torch): the suite is imported inside the functions that need it, which run
only when a quantizer is checked.
"""

from __future__ import annotations

from typing import Any, Optional

import pytest

__all__ = ["SETTINGS", "SOURCES", "HTML", "raw_value", "quantizer_specs", "qat_quantizer_specs", "suite_options",
           "load_source"]

SETTINGS = pytest.StashKey[dict]()  # the option values (hooks.pytest_configure)
SOURCES = pytest.StashKey[dict]()  # (spec, is_qat) -> QuantizerSource or QuantizerLoadError
HTML = pytest.StashKey[Optional[str]]()  # --pt2e-html: the page to write at the end of the session, or None


def raw_value(config: pytest.Config, name: str) -> Any:
    """The value of ``--pt2e-<name>``, else of the ini value ``pt2e_<name>``, else None."""
    key = name.replace("-", "_")
    value = config.getoption(f"pt2e_{key}")
    if value not in (None, []):
        return value
    ini = config.getini(f"pt2e_{key}")
    return ini if ini not in ("", [], None) else None


def quantizer_specs(config: pytest.Config) -> list[str]:
    """The ``--pt2e-quantizer`` / ``pt2e_quantizer`` values, stripped, empty ones left out."""
    return _specs(config, "quantizer")


def qat_quantizer_specs(config: pytest.Config) -> list[str]:
    """The ``--pt2e-qat-quantizer`` / ``pt2e_qat_quantizer`` values, stripped, empty ones left out."""
    return _specs(config, "qat-quantizer")


def _specs(config: pytest.Config, name: str) -> list[str]:
    specs = raw_value(config, name) or []
    return [s.strip() for s in specs if s and s.strip()]


def suite_options(config: pytest.Config) -> Any:
    """The :class:`~harness.suite.options.SuiteOptions` of this session."""
    from harness.suite.options import DEFAULT_QAT_SQNR_MIN, DEFAULT_SQNR_MIN, SuiteOptions

    s = dict(config.stash[SETTINGS])
    if s["sqnr_min"] is None:
        s["sqnr_min"] = DEFAULT_SQNR_MIN
    if s["qat_sqnr_min"] is None:
        s["qat_sqnr_min"] = DEFAULT_QAT_SQNR_MIN
    return SuiteOptions(**s)


def load_source(config: pytest.Config, spec: str, is_qat: bool = False) -> Any:
    """The quantizer source for ``spec`` (for QAT with ``is_qat``), loaded once per session (a QuantizerLoadError
    is cached too)."""
    from harness.suite.source import QuantizerLoadError, load_quantizer_factory

    cache = config.stash[SOURCES]
    if (spec, is_qat) not in cache:
        try:
            cache[(spec, is_qat)] = load_quantizer_factory(spec, is_qat)
        except QuantizerLoadError as e:
            cache[(spec, is_qat)] = e
    return cache[(spec, is_qat)]
