"""pytest plugin for third-party PT2E quantizers (registered through the ``pytest11`` entry point as ``pt2e``).

From the command line, in any directory::

    pytest --pt2e-quantizer=mypkg.quant:make_quantizer [--pt2e-examples=20] [-n auto]

adds the quantizer suite (:mod:`harness.suite.quantizer_suite`) to the run: per model of :mod:`harness.suite.models` the
``annotate``, ``well_formed``, ``prepare`` and ``numerics`` checks, random graphs (``random_graphs[i]``), the graphs
saved in the corpus directory (``corpus[...]``) and ``coverage``. Every option is also an ini value
(``pt2e_quantizer = mypkg.quant:make_quantizer`` in ``[tool.pytest.ini_options]``); all are in the ``pt2e`` group
of ``pytest --help``.

In a quantizer's own test suite, one line in a test module is enough::

    test_pt2e = quantizer_suite_tests(MyQuantizer)        # or quantizer_suite_tests() + a pt2e_quantizer fixture

Failures print the check in plain words, the annotations at fault and the annotated graph, and write the case to
the corpus directory (``pt2e-findings/`` by default). Known upstream bugs are expected failures (xfail); a model
left unannotated is a :class:`QuantizerWarning`. Every generated test carries the ``pt2e_quantizer_suite`` marker.

Importing this module must stay cheap: it is loaded by every pytest run in an environment where the project is
installed, so torch and the suite are imported only when a quantizer is to be checked.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Callable, Optional

import pytest

__all__ = ["QuantizerWarning", "quantizer_suite_tests", "pt2e_quantizer", "MARKER"]

MARKER = "pt2e_quantizer_suite"
PROFILES = ("dev", "ci", "nightly")


class QuantizerWarning(UserWarning):
    """A quantizer behaviour worth fixing that does not fail the suite (e.g. a model left unannotated).

    ``-W error::harness.plugin.QuantizerWarning`` makes these failures.
    """


# ---- options -----------------------------------------------------------------------------------

_OPTIONS: tuple[tuple[str, dict, str, str], ...] = (
    # (name, addoption kwargs, ini type, help)
    ("quantizer", {"action": "append", "metavar": "MODULE:FACTORY"}, "linelist",
     "a Quantizer class or zero-argument factory returning a configured quantizer to check (repeatable); "
     "adds the quantizer suite to the run"),
    ("prepare", {"metavar": "MODULE:FUNCTION"}, "string",
     "the prepare under test (default torchao.quantization.pt2e.prepare:prepare), compared with the reference"),
    ("examples", {"metavar": "N", "type": int}, "string",
     "hypothesis examples of random graphs per quantizer (default: the profile's, dev 10, ci 20, nightly 300)"),
    ("profile", {"metavar": "|".join(PROFILES), "choices": PROFILES}, "string",
     "budgets: examples, graph size, timeout, shrink time (default ci if $CI is set, else dev)"),
    ("sqnr-min", {"metavar": "DB", "type": float}, "string",
     "fail a model whose quantized output is below this SQNR against the float output (default 15 dB)"),
    ("timeout", {"metavar": "SECONDS", "type": float}, "string",
     "limit for each call into the quantizer and the prepare under test (default 60 s, nightly 120 s)"),
    ("corpus", {"metavar": "DIR"}, "string",
     "where failing cases are written, and whose saved graphs are checked again (default pt2e-findings/)"),
    ("models", {"metavar": "NAME,..."}, "string",
     "the models to check, comma-separated (default all: conv_bn_relu, residual, depthwise_separable, attention, "
     "mlp, embedding_linear)"),
    ("seed", {"metavar": "N", "type": int}, "string",
     "seed of the random graphs (default: fixed in the ci profile, random otherwise; failures print theirs)"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pt2e", "PT2E quantizer checks (pt2e-prepare-harness)")
    for name, kwargs, ini_type, help_text in _OPTIONS:
        group.addoption(f"--pt2e-{name}", dest=f"pt2e_{name.replace('-', '_')}", default=None, help=help_text,
                        **kwargs)
        parser.addini(f"pt2e_{name.replace('-', '_')}", help=f"{help_text} (--pt2e-{name})", type=ini_type,
                      default=[] if ini_type == "linelist" else "")


def _raw(config: pytest.Config, name: str) -> Any:
    key = name.replace("-", "_")
    value = config.getoption(f"pt2e_{key}")
    if value not in (None, []):
        return value
    ini = config.getini(f"pt2e_{key}")
    return ini if ini not in ("", [], None) else None


def _number(config: pytest.Config, name: str, kind: Callable, minimum: float) -> Any:
    value = _raw(config, name)
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"--pt2e-{name} / pt2e_{name.replace('-', '_')}: expected a number, got {value!r}")
    if number < minimum:
        raise pytest.UsageError(f"--pt2e-{name}: must be at least {minimum}, got {number}")
    return number


_SETTINGS = pytest.StashKey[dict]()
_SOURCES = pytest.StashKey[dict]()


def _quantizer_specs(config: pytest.Config) -> list[str]:
    specs = _raw(config, "quantizer") or []
    return [s.strip() for s in specs if s and s.strip()]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: a test generated by the pt2e quantizer suite (harness.plugin)")
    profile = _raw(config, "profile") or ("ci" if os.environ.get("CI") else "dev")
    if profile not in PROFILES:
        raise pytest.UsageError(f"pt2e_profile: expected one of {', '.join(PROFILES)}, got {profile!r}")
    models = _raw(config, "models")
    corpus = _raw(config, "corpus") or "pt2e-findings"
    config.stash[_SETTINGS] = {
        "prepare": _raw(config, "prepare") or "torchao.quantization.pt2e.prepare:prepare",
        "sqnr_min": _number(config, "sqnr-min", float, float("-inf")),
        "corpus": os.path.join(str(config.invocation_params.dir), os.path.expanduser(corpus)),
        "profile": profile,
        "examples": _number(config, "examples", int, 0),
        "timeout": _number(config, "timeout", float, 0.0),
        "models": tuple(m.strip() for m in models.split(",") if m.strip()) if models else None,
        "seed": _number(config, "seed", int, 0),
    }
    if models:  # the suite will run: check the names now (a usage error, not a collection error)
        from harness.suite.models import MODELS

        unknown = [m for m in config.stash[_SETTINGS]["models"] if m not in MODELS]
        if unknown:
            raise pytest.UsageError(f"--pt2e-models: unknown model(s) {', '.join(unknown)}; known: "
                                    f"{', '.join(MODELS)}")
    config.stash[_SOURCES] = {}
    config.pluginmanager.register(_SuiteSummary(config), "pt2e-summary")
    suite = sys.modules.get("harness.suite.quantizer_suite")
    if suite is not None:  # a new session (pytester runs several in one process): forget cached annotations
        suite.clear_caches()


def _options(config: pytest.Config) -> Any:
    from harness.suite.quantizer_suite import DEFAULT_SQNR_MIN, SuiteOptions

    s = dict(config.stash[_SETTINGS])
    if s["sqnr_min"] is None:
        s["sqnr_min"] = DEFAULT_SQNR_MIN
    return SuiteOptions(**s)


# ---- collection --------------------------------------------------------------------------------


def _load_source(config: pytest.Config, spec: str) -> Any:
    """The quantizer source for ``spec``, loaded once per session (a QuantizerLoadError is cached too)."""
    from harness.suite.quantizer_suite import QuantizerLoadError, load_quantizer_factory

    cache = config.stash[_SOURCES]
    if spec not in cache:
        try:
            cache[spec] = load_quantizer_factory(spec)
        except QuantizerLoadError as e:
            cache[spec] = e
    return cache[spec]


class QuantizerSuite(pytest.Collector):
    """The suite of one ``--pt2e-quantizer``: one item per check, or a single ``load`` item if it cannot load."""

    def __init__(self, *, spec: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def collect(self) -> list[pytest.Item]:
        from harness.suite.quantizer_suite import QuantizerLoadError, suite_checks

        source = _load_source(self.config, self.spec)
        if isinstance(source, QuantizerLoadError):
            return [LoadFailure.from_parent(self, name="load", nodeid=f"{self.nodeid}::load", error=source)]
        options = _options(self.config)
        items = []
        for check in suite_checks(options):
            item = SuiteItem.from_parent(self, name=check.name, nodeid=f"{self.nodeid}::{check.name}",
                                         check=check, source=source)
            item.add_marker(MARKER)
            item.add_marker(pytest.mark.xdist_group(f"pt2e:{self.spec}:{check.subject}"))
            items.append(item)
        return items


class SuiteItem(pytest.Item):
    """One check of the suite on one subject for one quantizer."""

    def __init__(self, *, check: Any, source: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.source = source

    def runtest(self) -> None:
        _run(self, self.source, self.check, _options(self.config))

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


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection, so they apply to the suite's tests too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    for spec in _quantizer_specs(config):
        name = f"pt2e[{spec}]"
        suite = QuantizerSuite.from_parent(session, name=name, nodeid=name, spec=spec)
        items.extend(session.genitems(suite))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the functions made by :func:`quantizer_suite_tests` with the checks of the suite."""
    if not getattr(metafunc.function, "_pt2e_suite", False):
        return
    from harness.suite.quantizer_suite import suite_checks

    checks = suite_checks(_options(metafunc.config))
    metafunc.parametrize("pt2e_check", checks, ids=[c.name for c in checks])


# ---- running -----------------------------------------------------------------------------------


def _run(node: pytest.Item, source: Any, check: Any, options: Any) -> None:
    """Run a check and turn its result into the test outcome (fail / xfail / skip / warn / pass)."""
    import logging

    from harness.suite import quantizer_suite as qs

    trace_log = logging.getLogger("torch.__trace")  # torch's structured-trace records: empty lines in reports
    disabled, trace_log.disabled = trace_log.disabled, True
    try:
        result = qs.run_check(check, source, options)
    finally:
        trace_log.disabled = disabled
    outcome = result.outcome
    if outcome == "failed" and check.check != "corpus":  # a saved graph is in the corpus already
        qs.save_finding(result, options.corpus)
    node.user_properties.append(("pt2e", result.summary_record()))
    for p in result.problems:
        if p.level == "warning":
            warnings.warn(QuantizerWarning(f"{source.label} {check.name}: {p.message}"), stacklevel=1)
    if outcome == "failed":
        pytest.fail(qs.format_result(result), pytrace=False)
    if outcome == "known":
        known = next(p for p in result.problems if p.level == "known")
        pytest.xfail(known.message.splitlines()[0])
    if outcome == "skipped":
        skip = next(p for p in result.problems if p.level == "skip")
        pytest.skip(skip.message.splitlines()[0])


def quantizer_suite_tests(quantizer: Any = None, *, label: Optional[str] = None) -> Callable:
    """A test function that runs the quantizer suite, for a quantizer's own test suite::

        test_pt2e = quantizer_suite_tests(MyQuantizer)      # a Quantizer class, factory or instance

    Without ``quantizer`` it uses the ``pt2e_quantizer`` fixture (override it in ``conftest.py``). Options and
    ini values (``--pt2e-models``, ``--pt2e-examples``...) apply as on the command line.
    """

    def test_pt2e_quantizer_suite(pt2e_check: Any, request: pytest.FixtureRequest) -> None:
        from harness.suite.quantizer_suite import QuantizerSource, quantizer_source

        obj = quantizer if quantizer is not None else request.getfixturevalue("pt2e_quantizer")
        source = obj if isinstance(obj, QuantizerSource) else quantizer_source(obj, label)
        _run(request.node, source, pt2e_check, _options(request.config))

    test_pt2e_quantizer_suite._pt2e_suite = True  # type: ignore[attr-defined]
    return getattr(pytest.mark, MARKER)(test_pt2e_quantizer_suite)


@pytest.fixture
def pt2e_quantizer(request: pytest.FixtureRequest) -> Any:
    """The quantizer :func:`quantizer_suite_tests` checks: override it in ``conftest.py`` to return a Quantizer
    (instance, class or zero-argument factory). By default the single ``--pt2e-quantizer`` / ``pt2e_quantizer``."""
    specs = _quantizer_specs(request.config)
    if len(specs) != 1:
        pytest.skip("no quantizer to check: override the pt2e_quantizer fixture in conftest.py or pass one "
                    "--pt2e-quantizer=MODULE:FACTORY")
    from harness.suite.quantizer_suite import QuantizerLoadError

    source = _load_source(request.config, specs[0])
    if isinstance(source, QuantizerLoadError):
        if source.unavailable:
            pytest.skip(f"quantizer unavailable: {source}")
        pytest.fail(f"cannot load the quantizer: {source}", pytrace=False)
    return source


# ---- the run summary ---------------------------------------------------------------------------


class _SuiteSummary:
    """Collects the records of the suite's tests (also from xdist workers) and prints the run summary."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.records: list[dict] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in getattr(report, "user_properties", ()):
            if name == "pt2e" and isinstance(value, dict):
                self.records.append(value)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.records:
            return
        terminalreporter.section("pt2e quantizer suite")
        for line in summary_lines(self.records, self.config.stash[_SETTINGS]):
            terminalreporter.write_line(line)


def summary_lines(records: list, settings: dict) -> list[str]:
    """The run summary: per quantizer, a table of the models (annotated nodes, each check, SQNR) and the rest."""
    lines: list[str] = []
    by_quantizer: dict[str, list] = {}
    for r in records:
        by_quantizer.setdefault(r["quantizer"], []).append(r)
    checks = ("annotate", "well_formed", "prepare", "numerics")
    for q, recs in by_quantizer.items():
        lines.append(f"{q}")
        models: dict[str, dict] = {}
        for r in recs:
            if r["subject"].startswith("model:"):
                models.setdefault(r["subject"][6:], {})[r["check"]] = r
        if models:
            lines.append(f"  {'model':<22}{'annotated':>10}  " + "".join(f"{c:<13}" for c in checks) + "SQNR dB")
            order = settings.get("models") or getattr(sys.modules.get("harness.suite.models"), "MODELS", {})
            rank = {name: i for i, name in enumerate(order)}
            for m, per in sorted(models.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])):
                annotated = next((r["annotated"] for r in per.values() if r.get("annotated") is not None), None)
                sqnr = per.get("numerics", {}).get("sqnr")
                cells = "".join(f"{per[c]['outcome'] if c in per else '-':<13}" for c in checks)
                shown = "-" if sqnr is None else sqnr if isinstance(sqnr, str) else format(sqnr, ".1f")
                lines.append(f"  {m:<22}{'-' if annotated is None else annotated:>10}  {cells}{shown}")
        randoms = [r for r in recs if r["check"] == "random_graphs"]
        if randoms:
            n = sum(r.get("examples", 0) for r in randoms)
            annotated = sum(r.get("annotated_examples", 0) for r in randoms)
            failed = sum(1 for r in randoms if r["outcome"] == "failed")
            known = sum(r.get("known", 0) for r in randoms)
            bugs = sorted({b for r in randoms for b in r.get("known_bugs", [])})
            seeds = ", ".join(str(r.get("seed")) for r in randoms)
            lines.append(f"  random graphs: {n} examples ({annotated} annotated) in {len(randoms)} chunk(s), "
                         f"{failed} failed, {known} known upstream bug hit(s) (seeds {seeds})")
            lines.extend(f"    known: {b}" for b in bugs)
        saved = [r for r in recs if r["check"] == "corpus"]
        if saved:
            failed = sum(1 for r in saved if r["outcome"] == "failed")
            lines.append(f"  saved graphs: {len(saved)} checked, {failed} failed")
        for r in recs:
            if r["check"] == "coverage":
                lines.append(f"  coverage: {r['outcome']}")
        written = sorted({r["saved"] for r in recs if r.get("saved")})
        if written:
            lines.append(f"  findings written to {settings['corpus']}:")
            lines.extend(f"    {os.path.basename(w)}" for w in written)
    return lines
