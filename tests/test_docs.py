"""The README and the manual in ``docs/``: their shell examples work as written, and what they promise holds.

The convention for examples: every fenced ``sh`` block in ``README.md`` and ``docs/*.md`` has, on the last non-blank
line before its fence, one marker:

* ``<!-- example: run -->``: :func:`test_example_runs` runs each command of the block, in order, in one fresh
  directory, and expects exit status 0. Options: ``exit=N`` (another expected status, for every command of the
  block), ``cwd=empty`` (an empty directory, as for the pytest plugin; by default the directory stands for the root
  of the checkout: ``corpus/``, ``repros/``, ``benchmarks/`` and ``pyproject.toml`` are links to the checkout's, and
  what a command writes stays in the directory). A command's own comment ``# exit status N`` overrides the block's.
  A ``run`` example must take under 30 s (:data:`TIMEOUT` is the hard limit, above it for loaded machines);
* ``<!-- example: skip: WHY -->``: not run, for the reason given (installs, the test suite itself, long campaigns,
  Ray clusters, templates naming a package of yours, optional dependencies).

A command is a line of the block (a trailing ``\\`` continues it; blank lines and ``#`` comment lines are not
commands), run by bash with the test's virtual environment first on ``PATH``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FILES = [README, *PAGES]
CI = ROOT / ".ci" / "run"
TIMEOUT = 60  # seconds for one command; the examples marked `run` are chosen to take under 30 s
README_MAX_LINES = 150
LINKED_FROM_ROOT = ("corpus", "repros", "benchmarks", "pyproject.toml")  # what a `run` example reads of the checkout

_FENCE = re.compile(r"^```sh\s*$")
_MARKER = re.compile(r"^<!-- example: (run(?P<opts>(?: [a-z]+=\S+)*) |skip: (?P<why>.+?) )-->$")
_EXIT_COMMENT = re.compile(r"#.*\bexit status (\d+)")


@dataclass(frozen=True)
class Example:
    file: Path
    line: int  # of the fence, 1-based
    marker: str  # "run", "skip" or "" (none)
    options: dict
    why: str
    commands: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def _commands(body: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    pending = ""
    for raw in body:
        line = raw.rstrip()
        if pending:
            line = pending + " " + line.strip()
            pending = ""
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        if line.strip() and not line.strip().startswith("#"):
            out.append(line.strip())
    if pending:
        out.append(pending.strip())
    return tuple(out)


def examples(path: Path) -> list[Example]:
    """The fenced ``sh`` blocks of ``path`` with their markers (module docstring)."""
    lines = path.read_text().splitlines()
    found = []
    i = 0
    while i < len(lines):
        if not _FENCE.match(lines[i]):
            i += 1
            continue
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        m = _MARKER.match(lines[j].strip()) if j >= 0 else None
        end = next((k for k in range(i + 1, len(lines)) if lines[k].strip() == "```"), len(lines))
        marker, options, why = "", {}, ""
        if m is not None and m.group("why") is not None:
            marker, why = "skip", m.group("why")
        elif m is not None:
            marker = "run"
            options = dict(o.split("=", 1) for o in m.group("opts").split())
        found.append(Example(path, i + 1, marker, options, why, _commands(lines[i + 1:end])))
        i = end + 1
    return found


ALL = [e for f in FILES for e in examples(f)]
RUN = [e for e in ALL if e.marker == "run"]


def test_the_readme_and_each_page_have_examples():
    assert PAGES, f"no page in {DOCS}"
    for f in FILES:
        assert examples(f), f"{f.relative_to(ROOT)} has no sh example"


@pytest.mark.parametrize("example", ALL, ids=[e.id for e in ALL])
def test_every_shell_example_is_marked_run_or_skip(example):
    assert example.marker, (f"{example.id}: the sh block has no marker; put <!-- example: run --> or "
                            "<!-- example: skip: WHY --> on the line before its fence")
    assert example.commands, f"{example.id}: an empty sh block"
    assert set(example.options) <= {"exit", "cwd"}, f"{example.id}: unknown option in {example.options}"
    assert example.options.get("cwd", "checkout") in ("checkout", "empty"), example.options
    assert example.options.get("exit", "0").isdigit(), example.options


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)  # headings in code blocks do not count
    return {_github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.M)}


_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", FILES, ids=[str(f.relative_to(ROOT)) for f in FILES])
def test_relative_links_and_anchors_resolve(path):
    for target in _LINK.findall(path.read_text()):
        if re.match(r"[a-z]+://", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        assert dest.exists(), f"{path.relative_to(ROOT)}: the link {target!r} points at nothing"
        if anchor:
            assert anchor in _anchors(dest), f"{path.relative_to(ROOT)}: no heading of {dest.name} has #{anchor}"


_PATH = re.compile(r"`((?:harness|prepare_impl|tests|benchmarks|corpus|repros|docs|notes|\.ci)/[\w./-]*)`")


@pytest.mark.parametrize("path", FILES, ids=[str(f.relative_to(ROOT)) for f in FILES])
def test_the_files_named_exist(path):
    """Every path of the checkout written in backticks (``harness/check/groups.py``) is there: a moved module makes
    the page stale, and this test says so."""
    missing = [p for p in _PATH.findall(path.read_text()) if not (ROOT / p).exists()]
    assert not missing, f"{path.relative_to(ROOT)} names files that are not in the checkout: {missing}"


def test_the_readme_is_short_and_links_every_page():
    text = README.read_text()
    assert len(text.splitlines()) <= README_MAX_LINES
    for page in PAGES:
        assert f"](docs/{page.name})" in text, f"the README does not link docs/{page.name}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_each_page_opens_with_its_reader_and_a_runnable_example(page):
    lines = page.read_text().splitlines()
    assert lines[0].startswith("# "), f"{page.name}: no title"
    opening = "\n".join(lines[1:5])
    assert "**Who this is for:**" in opening, f"{page.name}: the page does not open with who it is for"
    first_section = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
    first = [e for e in examples(page) if e.line <= first_section]
    assert first and first[0].marker == "run", f"{page.name}: no runnable example before its first section"


def _marked_line(path: Path, marker: str) -> str:
    """The first command after ``marker`` in ``.ci/run`` (``set +e`` and the like left out)."""
    lines = path.read_text().splitlines()
    start = lines.index(marker)
    return next(line.strip() for line in lines[start + 1:] if line.strip() and not line.startswith("set "))


def _pip_commands(line: str) -> list[list[str]]:
    """The ``pip install`` commands of an ``&&`` chain, as words, without ``-q``."""
    return [[w for w in shlex.split(part) if w != "-q"]
            for part in line.split("&&") if part.split()[:2] == ["pip", "install"]]


def test_ci_installs_and_tests_exactly_as_the_readme_says():
    """``.ci/run`` runs the README's set-up (its ``pip install`` commands, quiet) and then the README's test command:
    the lines after its "keep in sync" markers."""
    blocks = {e.commands[0]: e for e in examples(README) if e.commands}
    setup = next(c for c in blocks if "pip install" in c)
    ci_setup = _marked_line(CI, "# --- README: set-up (keep in sync) ---")
    assert _pip_commands(setup) and _pip_commands(setup) == _pip_commands(ci_setup), (setup, ci_setup)
    assert setup.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install")
    test = next(c for c in blocks if c.startswith("pytest") and "--pt2e" not in c)
    assert test == "pytest -n auto"
    assert _marked_line(CI, "# --- README: tests (keep in sync) ---") == test


@pytest.mark.parametrize("path", [README, DOCS / "campaign.md"], ids=["README.md", "docs/campaign.md"])
def test_the_exit_statuses_are_those_of_the_command_line(path):
    """The table of exit statuses lists exactly the statuses of ``python -m harness fuzz --help``."""
    from harness.fuzz.cli import EPILOG

    documented = re.findall(r"^\| (\d+) \|", path.read_text(), flags=re.M)
    assert documented == re.findall(r"^  (\d+) {2,}", EPILOG, flags=re.M), documented


def test_every_known_bug_has_its_entry_in_upstream_bugs():
    from harness.check.known_bugs import KNOWN_BUGS

    text = (DOCS / "upstream-bugs.md").read_text()
    headings = re.findall(r"^### `([\w-]+)`", text, flags=re.M)
    assert headings == [b.id for b in KNOWN_BUGS], "one entry per known bug, in the order of KNOWN_BUGS"
    for bug in KNOWN_BUGS:
        entry = text.split(f"### `{bug.id}`", 1)[1].split("\n### ", 1)[0]
        assert "**Verdict:**" in entry and "**Evidence:**" in entry and "**Found:**" in entry, bug.id
        assert ("lenient" in entry.split("**Verdict:**", 1)[1].split("\n", 1)[0]) == bug.lenient, bug.id
        assert bug.link in entry, f"{bug.id}: its public link {bug.link} is not in its entry"


def _environment() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE_"))}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["TORCHAO_FORCE_SKIP_LOADING_SO_FILES"] = "1"
    return env


@pytest.mark.slow
@pytest.mark.parametrize("example", RUN, ids=[e.id for e in RUN])
def test_example_runs(example, tmp_path):
    if example.options.get("cwd") != "empty":
        for name in LINKED_FROM_ROOT:
            (tmp_path / name).symlink_to(ROOT / name)
    env = _environment()
    for command in example.commands:
        m = _EXIT_COMMENT.search(command)
        want = int(m.group(1)) if m else int(example.options.get("exit", "0"))
        started = time.monotonic()
        try:
            done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"{example.id}: {command!r} ran over {TIMEOUT} s:\n{(e.stdout or b'')[-2000:]!r}")
        took = time.monotonic() - started
        assert done.returncode == want, (
            f"{example.id}: {command!r} exited {done.returncode}, the docs say {want} ({took:.1f} s)\n"
            f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
