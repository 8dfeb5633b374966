"""``python -m harness report DIR -o report.html``: one self-contained HTML page about the corpus cases in DIR.

Rule: every ``*.json`` file under DIR (recursively) is loaded with :func:`harness.case.files.load_case`; a file
that fails to load is listed on the page with its error and never ends the report. Each case gets its class and
status (:mod:`harness.tools.report_status`, from what the case records), its picture and text
(:mod:`harness.tools.report_figure`), and its section (:mod:`harness.tools.report_page`), new findings first, then
by group (:func:`harness.tools.report_status.regroup`), the smallest case of a group first (its witness). A campaign's
``OUT/timeline.jsonl`` in DIR adds its timeline (:mod:`harness.tools.report_timeline`).
The page is written atomically (a temporary file in the target's directory, then ``os.replace``).

:func:`write_report` is the same as a function (the pytest plugin calls it for ``--pt2e-html=FILE``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Iterable, Optional, Union

from harness import case as C
from harness.case.files import load_case
from harness.case.jsonform import CaseFormatError
from harness.common.atomic import write_atomic
from harness.common.timeline import read_timeline
from harness.tools.report_figure import MAX_NODES, figure
from harness.tools.report_page import Entry, Unreadable, render_page
from harness.tools.report_status import STATUSES, regroup, verdict
from harness.tools.report_timeline import timeline_section

__all__ = ["write_report", "collect", "report_html", "main_report", "TITLE"]

TITLE = "PT2E prepare findings"

PathLike = Union[str, "os.PathLike[str]"]
Item = Union[C.Case, PathLike, tuple]  # a Case, a file or directory, or a (path, Case) pair
CasesOrDir = Union[PathLike, C.Case, Iterable[Item]]


def _load(path: Path, cases: list, unreadable: list) -> None:
    try:
        cases.append((path, load_case(path)))
    except CaseFormatError as e:
        unreadable.append(Unreadable(path, str(e)))
    except Exception as e:  # noqa: BLE001 - a loader bug on one untrusted file must not end the report
        unreadable.append(Unreadable(path, f"{path}: cannot load ({type(e).__name__}: {e})"))


def _add_path(path: Path, cases: list, unreadable: list) -> None:
    if path.is_dir():
        for p in sorted(path.rglob("*.json")):
            if p.is_file():
                _load(p, cases, unreadable)
    elif path.exists():
        _load(path, cases, unreadable)
    else:
        unreadable.append(Unreadable(path, f"{path}: no such file or directory"))


def collect(cases_or_dir: CasesOrDir) -> tuple[list[tuple[Optional[Path], C.Case]], list[Unreadable], str]:
    """The cases to report (with the file each came from, ``None`` for a case given in memory), the files that
    could not be loaded, and the directory or file they were read from (``""`` for an iterable)."""
    cases: list[tuple[Optional[Path], C.Case]] = []
    unreadable: list[Unreadable] = []
    if isinstance(cases_or_dir, (str, os.PathLike)):
        _add_path(Path(cases_or_dir), cases, unreadable)
        return cases, unreadable, os.fspath(cases_or_dir)
    if isinstance(cases_or_dir, C.Case):
        cases_or_dir = [cases_or_dir]
    for item in cases_or_dir:
        if isinstance(item, C.Case):
            cases.append((None, item))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], C.Case):
            cases.append((Path(item[0]) if item[0] is not None else None, item[1]))
        elif isinstance(item, (str, os.PathLike)):
            _add_path(Path(item), cases, unreadable)
        else:
            raise TypeError(f"write_report: expected a Case, a path or a (path, Case) pair, got {type(item).__name__}")
    return cases, unreadable, ""


def report_html(cases_or_dir: CasesOrDir, title: str = TITLE, max_nodes: int = MAX_NODES) -> str:
    """The page's HTML (see :func:`write_report`)."""
    cases, unreadable, source = collect(cases_or_dir)
    verdicts = regroup([(case, verdict(case)) for _, case in cases])
    judged = [(path, case, v) for (path, case), v in zip(cases, verdicts)]
    judged.sort(key=lambda t: (STATUSES.index(t[2].status), t[2].group, len(t[1].graph.nodes), str(t[0] or ""),
                               t[1].info.title))
    entries = [Entry(path, case, v, figure(case, max_nodes, id_prefix=f"c{i}-"))
               for i, (path, case, v) in enumerate(judged, 1)]
    timeline = read_timeline(source) if source and os.path.isdir(source) else None
    return render_page(entries, unreadable, source, title, timeline_section(timeline))


def write_report(cases_or_dir: CasesOrDir, out_path: PathLike, *, title: str = TITLE,
                 max_nodes: int = MAX_NODES) -> Path:
    """Write the HTML report of ``cases_or_dir`` to ``out_path`` atomically and return its path.

    ``cases_or_dir``: a directory (every ``*.json`` under it, recursively) or a case file, or an iterable of
    :class:`~harness.case.Case` objects, ``(path, Case)`` pairs and paths of files or directories. Files that
    cannot be loaded are listed on the page. Graphs over ``max_nodes`` nodes are not drawn. Raises ``OSError``
    when the page cannot be written (the previous file, if any, is then left as it was).
    """
    text = report_html(cases_or_dir, title=title, max_nodes=max_nodes).encode("utf-8")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(out, text)


def main_report(argv: Optional[list[str]] = None) -> int:
    """``python -m harness report DIR -o OUT``: exit 0 when the page is written, 2 on errors."""
    parser = argparse.ArgumentParser(prog="python -m harness report",
                                     description="Write one self-contained HTML page about the corpus cases in DIR.")
    parser.add_argument("dir", help="a corpus directory (every *.json under it, recursively), or one case file")
    parser.add_argument("-o", "--output", default="report.html", help="the page to write (default report.html)")
    parser.add_argument("--title", default=TITLE, help=f"the page's title (default {TITLE!r})")
    parser.add_argument("--max-nodes", type=int, default=MAX_NODES,
                        help=f"larger graphs are not drawn (default {MAX_NODES})")
    args = parser.parse_args(argv)
    if not os.path.exists(args.dir):
        print(f"error: {args.dir}: no such file or directory", file=sys.stderr)
        return 2
    try:
        out = write_report(args.dir, args.output, title=args.title, max_nodes=args.max_nodes)
    except OSError as e:
        print(f"error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"wrote {out}", file=sys.stderr)
    return 0
