"""The suite's tests as pytest items: the collector of one ``--pt2e-quantizer`` / ``--pt2e-qat-quantizer`` (one item
per check, PTQ and, when the factory takes ``is_qat`` or the quantizer is given for QAT, QAT ones ending in
``[qat]``; a ``load`` / ``load[qat]`` item instead when the quantizer cannot be loaded), :func:`quantizer_suite_tests`
for a quantizer's own test suite, and the turning of a check's result into a test outcome (fail / xfail / skip /
warn / pass).

Importing this module stays cheap (no torch): the suite is imported inside the functions that run a check.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable, Optional

import pytest

from harness.plugin.settings import load_source, suite_options

__all__ = ["MARKER", "QuantizerWarning", "QuantizerSuite", "SuiteItem", "LoadFailure", "run_as_test",
           "quantizer_suite_tests"]

MARKER = "pt2e_quantizer_suite"


class QuantizerWarning(UserWarning):
    """A quantizer behaviour worth fixing that does not fail the suite (e.g. a model left unannotated).

    ``-W error::harness.plugin.QuantizerWarning`` makes these failures.
    """


class QuantizerSuite(pytest.Collector):
    """The suite of one quantizer: one item per check, or a single ``load`` item if it cannot load.

    ``ptq``: it was given as ``--pt2e-quantizer`` (PTQ checks, and QAT ones when its factory takes ``is_qat``);
    ``qat``: as ``--pt2e-qat-quantizer`` (QAT checks).
    """

    def __init__(self, *, spec: str, ptq: bool = True, qat: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.ptq = ptq
        self.qat = qat

    def collect(self) -> list[pytest.Item]:
        from harness.suite.source import QuantizerLoadError

        items: list[pytest.Item] = []
        qat = self.qat
        if self.ptq:
            source = load_source(self.config, self.spec)
            items.extend(self._items(source, "load"))
            qat = qat or (not isinstance(source, QuantizerLoadError) and source.qat_capable)
        if qat:
            items.extend(self._items(load_source(self.config, self.spec, is_qat=True), "load[qat]"))
        return items

    def _items(self, source: Any, load_name: str) -> list[pytest.Item]:
        from harness.suite.dispatch import suite_checks
        from harness.suite.source import QuantizerLoadError

        if isinstance(source, QuantizerLoadError):
            return [LoadFailure.from_parent(self, name=load_name, nodeid=f"{self.nodeid}::{load_name}", error=source)]
        items = []
        for check in suite_checks(suite_options(self.config), qat=source.is_qat):
            item = SuiteItem.from_parent(self, name=check.name, nodeid=f"{self.nodeid}::{check.name}",
                                         check=check, source=source)
            item.add_marker(MARKER)
            # one subject's checks on one xdist worker, where the quantizer's run on it is cached
            group = f"pt2e:{self.spec}:{check.subject.key}:{'qat' if check.qat else ''}"
            item.add_marker(pytest.mark.xdist_group(group))
            items.append(item)
        return items


class SuiteItem(pytest.Item):
    """One check of the suite on one subject for one quantizer."""

    def __init__(self, *, check: Any, source: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.source = source

    def runtest(self) -> None:
        run_as_test(self, self.source, self.check, suite_options(self.config))

    def reportinfo(self):
        return self.path, None, self.nodeid


class LoadFailure(pytest.Item):
    """Stands for a quantizer that cannot be loaded: fails with the reason, or skips if a dependency is missing."""

    def __init__(self, *, error: Exception, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        if getattr(self.error, "unavailable", False):
            pytest.skip(f"quantizer unavailable: {self.error}")
        pytest.fail(f"cannot load the quantizer: {self.error}", pytrace=False)

    def reportinfo(self):
        return self.path, None, self.nodeid


def run_as_test(node: pytest.Item, source: Any, check: Any, options: Any) -> None:
    """Run a check and turn its result into the test outcome (fail / xfail / skip / warn / pass)."""
    from harness.suite.check_registry import PREPARE
    from harness.suite.dispatch import run_check
    from harness.suite.reporting.failure import format_result, save_finding

    trace_log = logging.getLogger("torch.__trace")  # torch's structured-trace records: empty lines in reports
    disabled, trace_log.disabled = trace_log.disabled, True
    try:
        result = run_check(check, source, options)
    finally:
        trace_log.disabled = disabled
    outcome = result.outcome
    unjudged = any(p.level == "warning" and p.check == PREPARE.name for p in result.problems)
    if (outcome == "failed" or unjudged) and check.subject.kind != "saved":  # a saved graph is in the corpus already
        save_finding(result, options.corpus)
    node.user_properties.append(("pt2e", {**result.summary_record(), "test": check.name}))
    for p in result.problems:
        if p.level == "warning":
            warnings.warn(QuantizerWarning(f"{source.label} {check.name}: {p.message}"), stacklevel=1)
    if outcome == "failed":
        pytest.fail(format_result(result), pytrace=False)
    if outcome == "known":
        known = next(p for p in result.problems if p.level == "known")
        pytest.xfail(known.message.splitlines()[0])
    if outcome == "skipped":
        skip = next(p for p in result.problems if p.level == "skip")
        pytest.skip(skip.message.splitlines()[0])


def quantizer_suite_tests(quantizer: Any = None, *, label: Optional[str] = None,
                          qat: Optional[bool] = None) -> Callable:
    """A test function that runs the quantizer suite, for a quantizer's own test suite::

        test_pt2e = quantizer_suite_tests(MyQuantizer)      # a Quantizer class, factory or instance

    Without ``quantizer`` it uses the ``pt2e_quantizer`` fixture (override it in ``conftest.py``). Options and
    ini values (``--pt2e-models``, ``--pt2e-examples``...) apply as on the command line. ``qat``: None runs the
    QAT checks too (ids ending in ``[qat]``) when the factory takes ``is_qat``; True runs only QAT checks (a
    factory without ``is_qat`` is taken as configured for QAT); False only PTQ checks.
    """

    def test_pt2e_quantizer_suite(pt2e_check: Any, request: pytest.FixtureRequest) -> None:
        from harness.suite.source import QuantizerSource, qat_variant, quantizer_source

        obj = quantizer if quantizer is not None else request.getfixturevalue("pt2e_quantizer")
        source = obj if isinstance(obj, QuantizerSource) else quantizer_source(obj, label)
        if pt2e_check.qat:
            source = qat_variant(source)
        run_as_test(request.node, source, pt2e_check, suite_options(request.config))

    test_pt2e_quantizer_suite._pt2e_suite = True  # type: ignore[attr-defined]
    test_pt2e_quantizer_suite._pt2e_qat = qat  # type: ignore[attr-defined]
    test_pt2e_quantizer_suite._pt2e_target = quantizer  # type: ignore[attr-defined]
    return getattr(pytest.mark, MARKER)(test_pt2e_quantizer_suite)
