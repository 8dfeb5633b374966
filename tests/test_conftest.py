"""The suite's ``conftest.py``: a test marked ``logged`` gets a line of its own in the run's summary, so a log (CI's)
shows whether it ran. Run with pytester on the real conftest, plainly and under ``-n 2`` as the README's command
does."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

TESTS = '''
import pytest

@pytest.mark.logged
def test_runs():
    pass

@pytest.mark.logged
def test_wants_a_tool():
    pytest.skip("no frobnicator on PATH")

@pytest.mark.logged
def test_breaks():
    assert 1 == 2

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown")

@pytest.mark.logged
def test_passes_then_its_teardown_fails(broken_teardown):
    pass

def test_not_logged():
    pytest.skip("nobody asked")
'''


@pytest.mark.slow
@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["plain", "xdist"])
def test_logged_tests_are_named_in_the_summary(pytester, args):
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nmarkers =\n    logged: named in the summary\n")
    pytester.makepyfile(test_it=TESTS)
    result = pytester.runpytest_subprocess(*args)
    lines = [line for line in result.outlines if line.startswith("logged: ")]
    assert lines == [
        "logged: FAILED test_it.py::test_breaks",
        "logged: FAILED test_it.py::test_passes_then_its_teardown_fails",
        "logged: PASSED test_it.py::test_runs",
        "logged: SKIPPED test_it.py::test_wants_a_tool (Skipped: no frobnicator on PATH)",
    ], result.outlines
