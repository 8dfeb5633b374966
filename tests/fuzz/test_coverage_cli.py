"""Coverage through the command line: ``coverage run -m harness fuzz`` measures the candidate in the workers.

The workers are spawned processes; coverage.py measures them through its multiprocessing support, configured in
pyproject.toml's ``[tool.coverage.run]`` (docs/checks.md's commands, "Coverage of torchao's prepare"), and a
worker's data is saved only when its process ends normally at the end of the budget (not killed). The driver
never loads torch, so any line of torchao's prepare.py in the combined data was measured in a worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("coverage")

ROOT = Path(__file__).resolve().parents[2]
PREPARE = "*/torchao/quantization/pt2e/prepare.py"
LINES_MIN = 80.0  # percent of prepare.py's lines; a 15-20 s run reaches about 97%


def _coverage(tmp_path: Path, command: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m coverage COMMAND ARGS`` in ``tmp_path`` with the project's settings (what the commands of
    docs/checks.md read from pyproject.toml when run at the root)."""
    env = dict(os.environ, TORCHAO_FORCE_SKIP_LOADING_SO_FILES="1")
    env.pop("COVERAGE_FILE", None)
    env.pop("COVERAGE_RCFILE", None)
    return subprocess.run([sys.executable, "-m", "coverage", command, f"--rcfile={ROOT / 'pyproject.toml'}", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_coverage_run_of_the_command_line_measures_the_candidate_in_the_workers(tmp_path):
    run = _coverage(tmp_path, "run", "-m", "harness", "fuzz", "--seconds", "20", "--seed", "0", "--out",
                    str(tmp_path / "findings"))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    data = sorted(p.name for p in tmp_path.glob(".coverage.*"))
    assert len(data) >= 2, f"one data file per process (the driver and its worker), found {data}"
    combine = _coverage(tmp_path, "combine")
    assert combine.returncode == 0, combine.stdout + combine.stderr
    report = _coverage(tmp_path, "json", "-o", "coverage.json", f"--include={PREPARE}")
    assert report.returncode == 0, report.stdout + report.stderr  # 1 with "No data to report": not measured
    files = json.loads((tmp_path / "coverage.json").read_text())["files"]
    (summary,) = [f["summary"] for name, f in files.items() if name.endswith("prepare.py")]
    lines = 100.0 * summary["covered_lines"] / summary["num_statements"]
    assert lines > LINES_MIN, f"torchao's prepare.py: {lines:.1f}% of its lines measured in the workers"
