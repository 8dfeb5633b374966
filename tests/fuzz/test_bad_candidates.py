"""The campaign survives its candidate: a prepare that hangs, aborts, exits, returns None or returns its input
ends the run in bounded time with a non-zero status, and the output says in words what happened.

Each bad candidate is a small module written to ``tmp_path`` and found through ``PYTHONPATH``, run as a user would
(``python -m harness fuzz``) with one and with two jobs.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.case.files import iter_cases

# start-up of the workers (torch) is part of the budget: on a busy 2-core machine it takes 10 s, 20 s for two
SECONDS = {1: 20, 2: 35}

BAD_CANDIDATES = textwrap.dedent('''
    import os, sys, time

    def hangs(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
        while True:
            time.sleep(0.05)

    def aborts(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
        os.abort()

    def exits(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
        sys.exit(0)

    def returns_none(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
        return None

    def returns_its_input(model, node_name_to_scope, is_qat, obs_or_fq_callback=None):
        return model
''')

# candidate -> what the output must say (lower case)
SAYS = {
    "hangs": ["timeout", "case time limit", "hangs"],
    "aborts": ["crash", "sigabrt"],
    "exits": ["crash", "systemexit"],
    "returns_none": ["returned none"],
    "returns_its_input": ["returned its input without inserting any observer"],
}


def _run(tmp_path, candidate, jobs, seconds, extra=()):
    (tmp_path / "bad_candidates.py").write_text(BAD_CANDIDATES)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "findings"
    start = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "fuzz", "--candidate", f"bad_candidates:{candidate}", "--seconds",
         str(seconds), "--jobs", str(jobs), "--case-timeout", "2", "--out", str(out), "--mode", "valid", *extra],
        capture_output=True, text=True, env=env, timeout=seconds * 3 + 60,
    )
    return proc, time.time() - start, out


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("candidate", sorted(SAYS))
def test_a_bad_candidate_ends_the_run_in_time_with_a_finding(tmp_path, candidate, jobs):
    seconds = SECONDS[jobs]
    proc, wall, out = _run(tmp_path, candidate, jobs, seconds)
    text = proc.stdout.lower()
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert wall <= seconds * 1.1 + 5, f"the run took {wall:.1f} s for a budget of {seconds} s"
    for words in SAYS[candidate]:
        assert words in text, (words, proc.stdout[-3000:])
    assert "the harness failed" not in text
    cases = iter_cases(out)
    assert cases and all(case.info.kind == "finding" for _, case in cases)  # saved, as valid corpus cases


def _ctrl_c_as_in_a_terminal() -> None:
    """In the campaign's process before it runs: SIGINT's default action, as a command typed in a terminal has. A
    job started in the background by a shell without job control (``pytest ... &`` in a script) inherits SIGINT
    ignored, and so would the campaign (Python leaves an ignored SIGINT alone, as ``nohup`` wants)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _descendants(pid: int) -> set[int]:
    """The processes under ``pid`` (from /proc; empty where there is none)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _assert_ended(processes: set[int], after: str) -> None:
    """Every process of ``processes`` is gone within 10 s (the driver ``after``: "exited", "was killed")."""
    deadline = time.time() + 10
    while processes and time.time() < deadline:
        processes = {p for p in processes if Path(f"/proc/{p}").exists()}
        time.sleep(0.2)
    assert not processes, f"still running after the driver {after}: {sorted(processes)}"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_prints_the_summary_exits_130_and_leaves_no_process(tmp_path, sig):
    (tmp_path / "bad_candidates.py").write_text(BAD_CANDIDATES)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "fuzz", "--candidate", "harness.mutants:no_output_sharing", "--seconds",
         "120", "--out", str(tmp_path / "findings"), "--mode", "valid"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_ctrl_c_as_in_a_terminal,
    )
    time.sleep(15)
    started = _descendants(proc.pid)  # the workers' server and the workers
    proc.send_signal(sig)
    start = time.time()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout[-3000:] + stderr[-3000:]
    assert time.time() - start < 15
    why = "Ctrl-C" if sig == signal.SIGINT else "SIGTERM"
    assert f"interrupted ({why})" in stdout and "cases in" in stdout
    _assert_ended(started, "exited")
    for _, case in iter_cases(tmp_path / "findings") if (tmp_path / "findings").exists() else []:
        assert case.info.kind == "finding"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_while_the_first_worker_waits_for_the_servers_imports_ends_the_run_at_once(tmp_path, sig):
    """The first worker's start waits for the workers' server to import torch (a second or more). A Ctrl-C then was
    once lost (the driver ignored SIGINT while it waited, to shield the child) and the run went on to the end of its
    budget. Now it ends the run at once, with nothing left behind: no server, no worker forked later for the start
    the driver gave up on, no traceback from one."""
    out = tmp_path / "findings"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "fuzz", "--seconds", "120", "--out", str(out), "--mode", "valid"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_as_in_a_terminal,
    )
    try:  # said once the server is started, just before the driver starts the worker
        assert select.select([proc.stdout], [], [], 60)[0], "the driver said nothing in 60 s"
        first = proc.stdout.readline()
    except BaseException:
        proc.kill()
        raise
    assert first.startswith("fuzzing "), first
    started = _descendants(proc.pid)  # the workers' server (and multiprocessing's resource tracker)
    proc.send_signal(sig)
    start = time.time()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout[-3000:] + stderr[-3000:]
    assert time.time() - start < 10
    why = "Ctrl-C" if sig == signal.SIGINT else "SIGTERM"
    assert f"interrupted ({why})" in stdout and "Traceback" not in stderr, stderr[-3000:]
    _assert_ended(started, "exited")
    # the server is gone: no worker can be forked now; none was, for the start the driver gave up on
    assert not (out / "logs" / "worker-0.log").exists(), (out / "logs" / "worker-0.log").read_text()[-3000:]


@pytest.mark.slow
def test_a_killed_driver_leaves_no_worker_running(tmp_path):
    """SIGKILL gives the driver no chance to stop its workers; they end with it anyway (a worker watches its
    driver's process), and so does the workers' server, instead of running on to the end of the budget."""
    out = tmp_path / "findings"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "fuzz", "--seconds", "120", "--out", str(out), "--mode", "valid"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while not (out / "logs" / "worker-0.log").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    started = _descendants(proc.pid)  # the server, the worker, the resource tracker
    assert len(started) >= 3, started
    proc.kill()
    proc.wait(timeout=30)
    _assert_ended(started, "was killed")
