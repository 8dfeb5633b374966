"""The plugin's options and pytest hooks: ``--pt2e-*`` options and their ini values, reading them at configure
time (bad values are usage errors), clearing the hang markers of an earlier run at session start, adding each
``--pt2e-quantizer``'s suite to the collected items, parametrizing
:func:`~harness.plugin.items.quantizer_suite_tests`, and the ``pt2e_quantizer`` fixture.

Importing this module stays cheap (no torch): it is loaded by every pytest run in an environment where the project
is installed, so the suite is imported inside the hooks, only when a quantizer is to be checked.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

import pytest

from harness.plugin.items import MARKER, QuantizerSuite
from harness.plugin.settings import (
    HTML,
    SETTINGS,
    SOURCES,
    load_source,
    qat_quantizer_specs,
    quantizer_specs,
    raw_value,
    suite_options,
)
from harness.plugin.summary import SuiteSummary

__all__ = ["PROFILE_NAMES", "HANG_MARKERS", "pytest_addoption", "pytest_configure", "pytest_sessionstart",
           "pytest_collection_modifyitems",
           "pytest_generate_tests", "pt2e_quantizer"]

# where a quantizer's hang is told to the other processes of the run (inside the corpus directory)
HANG_MARKERS = ".pt2e-hangs"
# the budget profiles' names (harness.suite.options.BUDGET_PROFILES, not imported here to keep --help light)
PROFILE_NAMES = ("dev", "ci", "nightly")

OPTIONS: tuple[tuple[str, dict, str, str], ...] = (
    # (name, addoption kwargs, ini type, help)
    ("quantizer", {"action": "append", "metavar": "MODULE:FACTORY"}, "linelist",
     "a Quantizer class or zero-argument factory returning a configured quantizer to check (repeatable); "
     "adds the quantizer suite to the run, and its QAT form ([qat] tests) when the factory takes is_qat"),
    ("qat-quantizer", {"action": "append", "metavar": "MODULE:FACTORY"}, "linelist",
     "a quantizer configured for QAT (a factory taking is_qat is called with is_qat=True) to check through "
     "prepare_qat_pt2e's steps (repeatable; [qat] tests)"),
    ("prepare", {"metavar": "MODULE:FUNCTION"}, "string",
     "the prepare under test (default torchao.quantization.pt2e.prepare:prepare), compared with the reference"),
    ("examples", {"metavar": "N", "type": int}, "string",
     "hypothesis examples of random graphs per quantizer (default: the profile's, dev 10, ci 20, nightly 300)"),
    ("profile", {"metavar": "|".join(PROFILE_NAMES), "choices": PROFILE_NAMES}, "string",
     "budgets: examples, graph size, timeout, shrink time (default ci if $CI is set, else dev)"),
    ("sqnr-min", {"metavar": "DB", "type": float}, "string",
     "fail a model whose quantized output is below this SQNR against the float output (default 15 dB)"),
    ("qat-sqnr-min", {"metavar": "DB", "type": float}, "string",
     "the same for QAT, where fake quants are calibrated without training (default 10 dB)"),
    ("timeout", {"metavar": "SECONDS", "type": float}, "string",
     "limit for each call into the quantizer and the prepare under test (default 60 s, nightly 120 s)"),
    ("corpus", {"metavar": "DIR"}, "string",
     "where failing cases are written, and whose saved graphs are checked again (default pt2e-findings/)"),
    ("models", {"metavar": "NAME,..."}, "string",
     "the models to check, comma-separated (default all: conv_bn_relu, residual, depthwise_separable, attention, "
     "mlp, embedding_linear)"),
    ("seed", {"metavar": "N", "type": int}, "string",
     "seed of the random graphs (default: fixed in the ci profile, random otherwise; failures print theirs)"),
    ("html", {"metavar": "FILE"}, "string",
     "at the end of the run, write one self-contained HTML page of the findings written during the run"),
    ("allow-derive", {"action": "append", "metavar": "MODULE:FUNCTION"}, "linelist",
     "a bias derive function (derive_qparams_fn) that cases may name, by qualified name (repeatable; imported at "
     "start): the prepare check of a quantizer with its own derive function needs it (its skip message names it)"),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pt2e", "PT2E quantizer checks (pt2e-prepare-harness)")
    for name, kwargs, ini_type, help_text in OPTIONS:
        group.addoption(f"--pt2e-{name}", dest=f"pt2e_{name.replace('-', '_')}", default=None, help=help_text,
                        **kwargs)
        parser.addini(f"pt2e_{name.replace('-', '_')}", help=f"{help_text} (--pt2e-{name})", type=ini_type,
                      default=[] if ini_type == "linelist" else "")


def _number(config: pytest.Config, name: str, kind: Callable, minimum: float) -> Any:
    value = raw_value(config, name)
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"--pt2e-{name} / pt2e_{name.replace('-', '_')}: expected a number, got {value!r}")
    if number < minimum:
        raise pytest.UsageError(f"--pt2e-{name}: must be at least {minimum}, got {number}")
    return number


def _allow_derive(config: pytest.Config) -> None:
    """Opt in the ``--pt2e-allow-derive`` functions for this session (a name that does not import is a usage
    error); the opt-in is undone when the session ends."""
    names = tuple(n.strip() for n in raw_value(config, "allow-derive") or [] if n and n.strip())
    if not names:
        return
    from harness.fx import derive_registry  # imports torch: only when the option is given

    try:
        derive_registry.allow(*names)
    except derive_registry.DeriveImportError as e:
        raise pytest.UsageError(f"--pt2e-allow-derive / pt2e_allow_derive: {e}") from None
    config.add_cleanup(lambda: derive_registry.disallow(*names))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: a test generated by the pt2e quantizer suite (harness.plugin)")
    profile = raw_value(config, "profile") or ("ci" if os.environ.get("CI") else "dev")
    if profile not in PROFILE_NAMES:
        raise pytest.UsageError(f"pt2e_profile: expected one of {', '.join(PROFILE_NAMES)}, got {profile!r}")
    models = raw_value(config, "models")
    corpus = os.path.join(str(config.invocation_params.dir), os.path.expanduser(raw_value(config, "corpus")
                                                                                  or "pt2e-findings"))
    config.stash[SETTINGS] = {
        "prepare": raw_value(config, "prepare") or "torchao.quantization.pt2e.prepare:prepare",
        "sqnr_min": _number(config, "sqnr-min", float, float("-inf")),
        "qat_sqnr_min": _number(config, "qat-sqnr-min", float, float("-inf")),
        "corpus": corpus,
        "profile": profile,
        "examples": _number(config, "examples", int, 0),
        "timeout": _number(config, "timeout", float, 0.0),
        "models": tuple(m.strip() for m in models.split(",") if m.strip()) if models else None,
        "seed": _number(config, "seed", int, 0),
        "hang_markers": os.path.join(corpus, HANG_MARKERS),
    }
    if models:  # the suite will run: check the names now (a usage error, not a collection error)
        from harness.suite.subjects.models import MODELS

        unknown = [m for m in config.stash[SETTINGS]["models"] if m not in MODELS]
        if unknown:
            raise pytest.UsageError(f"--pt2e-models: unknown model(s) {', '.join(unknown)}; known: "
                                    f"{', '.join(MODELS)}")
    _allow_derive(config)
    html = raw_value(config, "html")
    config.stash[HTML] = os.path.join(str(config.invocation_params.dir), os.path.expanduser(html)) if html else None
    config.stash[SOURCES] = {}
    config.pluginmanager.register(SuiteSummary(config), "pt2e-summary")
    for name in ("harness.suite.checks.model_runs", "harness.suite.checks.hangs"):
        module = sys.modules.get(name)
        if module is not None:  # a new session (pytester runs several in one process): forget annotations, hangs
            module.clear_caches()


@pytest.hookimpl(tryfirst=True)  # before xdist's controller starts the workers
def pytest_sessionstart(session: pytest.Session) -> None:
    """Remove the hang markers of an earlier run: in the controller (or the only process), never in a worker,
    which would erase what another worker has just recorded."""
    markers = session.config.stash[SETTINGS]["hang_markers"]
    if not hasattr(session.config, "workerinput") and os.path.isdir(markers):
        from harness.suite.checks.hangs import clear_hang_markers

        clear_hang_markers(markers)


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection, so they apply to the suite's tests too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    ptq = quantizer_specs(config)
    qat_only = qat_quantizer_specs(config)
    for spec in dict.fromkeys(ptq + qat_only):
        name = f"pt2e[{spec}]"
        suite = QuantizerSuite.from_parent(session, name=name, nodeid=name, spec=spec, ptq=spec in ptq,
                                           qat=spec in qat_only)
        items.extend(session.genitems(suite))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the functions made by :func:`quantizer_suite_tests` with the checks of the suite."""
    if not getattr(metafunc.function, "_pt2e_suite", False):
        return
    from harness.suite.dispatch import suite_checks

    options = suite_options(metafunc.config)
    mode = getattr(metafunc.function, "_pt2e_qat", None)
    if mode is None:  # QAT too when the quantizer takes is_qat
        mode = "both" if _qat_capable(metafunc.config, getattr(metafunc.function, "_pt2e_target", None)) else False
    checks = [] if mode is True else suite_checks(options)
    if mode:
        checks += suite_checks(options, qat=True)
    metafunc.parametrize("pt2e_check", checks, ids=[c.name for c in checks])


def _qat_capable(config: pytest.Config, target: Any) -> bool:
    """Whether the quantizer of a :func:`quantizer_suite_tests` function takes ``is_qat`` (given, or else the single
    ``--pt2e-quantizer``; a conftest override of the fixture is not known here: PTQ only)."""
    from harness.suite.source import QuantizerLoadError, QuantizerSource, accepts_is_qat

    if target is not None:
        return target.qat_capable if isinstance(target, QuantizerSource) else accepts_is_qat(target)
    specs = quantizer_specs(config)
    if len(specs) != 1:
        return False
    source = load_source(config, specs[0])
    return not isinstance(source, QuantizerLoadError) and source.qat_capable


@pytest.fixture
def pt2e_quantizer(request: pytest.FixtureRequest) -> Any:
    """The quantizer :func:`quantizer_suite_tests` checks: override it in ``conftest.py`` to return a Quantizer
    (instance, class or zero-argument factory). By default the single ``--pt2e-quantizer`` / ``pt2e_quantizer``."""
    specs = quantizer_specs(request.config)
    if len(specs) != 1:
        pytest.skip("no quantizer to check: override the pt2e_quantizer fixture in conftest.py or pass one "
                    "--pt2e-quantizer=MODULE:FACTORY")
    from harness.suite.source import QuantizerLoadError

    source = load_source(request.config, specs[0])
    if isinstance(source, QuantizerLoadError):
        if source.unavailable:
            pytest.skip(f"quantizer unavailable: {source}")
        pytest.fail(f"cannot load the quantizer: {source}", pytrace=False)
    return source
