"""Suite-wide set-up: torchao's native kernels are not needed; hypothesis profiles for dev, ci and nightly.

Rule: ``dev`` (the default without ``CI``) and ``ci`` are derandomized, so a test run gives the same result every
time; random exploration is the ``nightly`` profile's (``HYPOTHESIS_PROFILE=nightly``) and the fuzz campaign's.
"""

import os

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

from hypothesis import HealthCheck, settings  # noqa: E402

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=20, derandomize=True, **_common)
settings.register_profile("ci", max_examples=40, derandomize=True, print_blob=True, **_common)
settings.register_profile("nightly", max_examples=1000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


# ---- tests whose outcome the run's summary names: ``@pytest.mark.logged`` ----------------------------------------
#
# Rule: a test marked ``logged`` (one that can skip for want of a tool, where a skip must be seen: the HTML report's
# headless-browser test) gets a line of its own at the end of the run, ``logged: PASSED|SKIPPED|FAILED nodeid``, with
# the reason of a skip; so CI's log says whether it ran, not only how many tests skipped. Reports reach the
# controller of ``pytest -n auto`` too, so the lines come from the process that prints the summary.

_logged: dict[str, tuple[str, str]] = {}


def pytest_runtest_logreport(report):
    """A logged test's outcome from its setup, call and teardown, in turn: a failed or skipped phase says so (a
    skipped test's teardown passes, and a failed phase is the last one but teardown); a passed call is PASSED."""
    if "logged" not in report.keywords:
        return
    if report.failed:
        _logged[report.nodeid] = ("FAILED", "")
    elif report.skipped:
        longrepr = report.longrepr
        _logged[report.nodeid] = ("SKIPPED", longrepr[2] if isinstance(longrepr, tuple) else str(longrepr))
    elif report.when == "call":
        _logged[report.nodeid] = ("PASSED", "")


def pytest_terminal_summary(terminalreporter):
    for nodeid, (outcome, reason) in sorted(_logged.items()):
        terminalreporter.write_line(f"logged: {outcome} {nodeid}" + (f" ({reason})" if reason else ""))
