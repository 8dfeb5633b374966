"""The HTML text of the findings report: one self-contained page (inline CSS and SVG, no script, no request).

Rule: every string that comes from a case file (titles, notes, tags, node names, paths, error messages) goes
through :func:`html.escape`; a case's link becomes a hyperlink only when it is a plain ``http(s)`` URL, and it is
the only URL on the page. Pictures arrive already checked (:mod:`harness.tools.report_figure`). The page is also
well-formed XML after its doctype (every element closed, no named entities), so it can be parsed strictly.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Optional, Sequence

from harness import case as C
from harness.check.groups import UPSTREAM_FAILS_TOO, UPSTREAM_FAILS_TOO_MEANING, key_label
from harness.tools.report_figure import Figure
from harness.tools.report_status import STATUSES, UNKNOWN, Verdict

__all__ = ["Entry", "Unreadable", "render_page", "repro_command", "show_command", "is_link"]

_LINK = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")
_STATUS_CSS = {status: f"s{i}" for i, status in enumerate(STATUSES)}

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em 2em;
       color: #202124; background: #fff; line-height: 1.4; }
h1, h2, h3 { overflow-wrap: anywhere; }  /* a case's heading is its title: a signature can have no space in 100 chars */
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #dadce0; padding-bottom: 0.2em; margin-top: 1.6em; }
h3 { margin: 1em 0 0.4em; font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.6em 0; max-width: 100%; }
th, td { border: 1px solid #dadce0; padding: 0.25em 0.6em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
thead th, td.n, td.zero { white-space: nowrap; }
td.key, th.key { overflow-wrap: break-word; }
table.index td.witness, table.index td.file { min-width: 14em; }
th { background: #f1f3f4; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.zero { color: #bbb; text-align: right; }
.status { display: inline-block; padding: 0 0.5em; border-radius: 0.7em; font-size: 0.9em; white-space: nowrap; }
.s0 { background: #fce8e6; color: #a50e0e; font-weight: bold; }
.s1 { background: #fef7e0; color: #8a5a00; font-weight: bold; }
.s2 { background: #e8f0fe; color: #174ea6; }
.s3 { background: #fef7e0; color: #8a5a00; }
.s4 { background: #e6f4ea; color: #137333; }
.s5 { background: #e6f4ea; color: #137333; }
.s6 { background: #f1f3f4; color: #5f6368; }
section.case { border: 1px solid #dadce0; border-radius: 6px; padding: 0.2em 1.2em 1em; margin: 1.5em 0; }
section.case h2 { border: none; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; margin: 0.5em 0; }
dt { font-weight: bold; color: #5f6368; }
dd { margin: 0; overflow-wrap: anywhere; }
pre { background: #f8f9fa; border: 1px solid #e8eaed; padding: 0.6em; overflow-x: auto; white-space: pre-wrap;
      overflow-wrap: anywhere; font-size: 0.9em; }
code { font-family: "DejaVu Sans Mono", monospace; }
.figure { overflow-x: auto; border: 1px solid #e8eaed; margin: 0.4em 0; }
.figure svg { display: block; max-width: 100%; height: auto; }
.notes { white-space: pre-wrap; overflow-wrap: anywhere; background: #f8f9fa; border-left: 3px solid #dadce0;
         padding: 0.4em 0.8em; }
.note { color: #5f6368; font-style: italic; }
.error { color: #a50e0e; }
"""


@dataclass(frozen=True)
class Entry:
    """One case of the report: where it was read from (``None`` for a case given in memory), the case, its
    verdict and its figure."""

    path: Optional[Path]
    case: C.Case
    verdict: Verdict
    figure: Figure


@dataclass(frozen=True)
class Unreadable:
    """A file that could not be loaded, and why."""

    path: Path
    error: str


def is_link(url: str) -> bool:
    """Whether ``url`` is a plain http(s) URL the page may link to."""
    return bool(_LINK.fullmatch(url))


def repro_command(path: Path) -> str:
    return f"python -m harness repro {shlex.quote(str(path))} > repro.py"


def show_command(path: Path) -> str:
    return f"python -m harness show {shlex.quote(str(path))} --svg case.svg"


def _status(status: str) -> str:
    return f'<span class="status {_STATUS_CSS.get(status, _STATUS_CSS[UNKNOWN])}">{escape(status)}</span>'


def _link(info: C.Info) -> str:
    if not info.link:
        return ""
    label = "known bug" if info.kind in ("finding", "upstream_bug") else "reference"
    if is_link(info.link):
        body = f'<a href="{escape(info.link)}">{escape(info.link)}</a>'
    else:
        body = f'<code>{escape(info.link)}</code> <span class="note">(not an http(s) URL: not linked)</span>'
    return f"<dt>{label}</dt><dd>{body}</dd>"


def _summary_table(entries: Sequence[Entry]) -> list[str]:
    counts = Counter((e.verdict.group, e.verdict.status) for e in entries)
    classes = sorted({e.verdict.group for e in entries})
    statuses = [s for s in STATUSES if any(s == e.verdict.status for e in entries)]
    out = ['<table class="matrix"><thead><tr><th>group</th>'
           + "".join(f"<th>{_status(s)}</th>" for s in statuses) + "<th>total</th></tr></thead><tbody>"]
    for klass in classes:
        cells = [counts[(klass, s)] for s in statuses]
        out.append(f'<tr><th class="key">{escape(klass)}</th>' + "".join(
            f'<td class="n">{n}</td>' if n else '<td class="zero">0</td>' for n in cells)
            + f'<td class="n">{sum(cells)}</td></tr>')
    totals = [sum(counts[(k, s)] for k in classes) for s in statuses]
    out.append("<tr><th>total</th>" + "".join(f'<td class="n">{n}</td>' for n in totals)
               + f'<td class="n">{len(entries)}</td></tr></tbody></table>')
    return out


def _groups(entries: Sequence[Entry]) -> list[list[tuple[int, Entry]]]:
    """The entries (numbered from 1, in page order) by group and status, in the order of their first entry; the
    page puts a group's smallest case first, so it is the group's witness."""
    by_key: dict[tuple[str, str], list[tuple[int, Entry]]] = {}
    for i, e in enumerate(entries, 1):
        by_key.setdefault((e.verdict.group, e.verdict.status), []).append((i, e))
    return list(by_key.values())


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Increasing ``numbers`` as runs of consecutive ones, (first, last) each: a group's sections are together."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _index_table(entries: Sequence[Entry]) -> list[str]:
    out = ['<table class="index"><thead><tr><th>group</th><th>status</th><th>cases</th><th>smallest case</th>'
           "<th>file</th><th>all its cases</th></tr></thead><tbody>"]
    for members in _groups(entries):
        i, e = members[0]
        where = f"<code>{escape(str(e.path))}</code>" if e.path else '<span class="note">(in memory)</span>'
        links = ", ".join(f'<a href="#case-{a}">{a}</a>' + (f'\u2013<a href="#case-{b}">{b}</a>' if b > a else "")
                          for a, b in _runs([j for j, _ in members]))
        label = key_label(e.verdict.group, (m.case.info.title or "" for _, m in members))
        out.append(f'<tr><td class="key">{escape(label)}</td><td>{_status(e.verdict.status)}</td>'
                   f'<td class="n">{len(members)}</td><td class="witness"><a href="#case-{i}">{i}. '
                   f'{escape(e.case.info.title or "(untitled)")}</a> ({len(e.case.graph.nodes)} nodes)</td>'
                   f'<td class="file">{where}</td><td>{links}</td></tr>')
    out.append("</tbody></table>")
    return out


def _figure(fig: Figure) -> list[str]:
    """The parts of a case's picture it has: the drawing (already checked), the note on it, the text form."""
    parts = ((fig.svg, f'<div class="figure">{fig.svg}</div>'), (fig.note, f'<p class="note">{escape(fig.note)}</p>'),
             (fig.text, f"<details><summary>as text</summary><pre>{escape(fig.text)}</pre></details>"))
    return [html for present, html in parts if present]


def _section(i: int, e: Entry) -> list[str]:
    case = e.case
    info = case.info
    mode = "QAT" if case.is_qat else "PTQ"
    out = [f'<section class="case" id="case-{i}"><h2>{i}. {escape(info.title or "(untitled)")}</h2><dl>',
           f"<dt>group</dt><dd>{escape(e.verdict.group)}</dd>",
           f"<dt>class</dt><dd>{escape(e.verdict.klass)}</dd>",
           f"<dt>status</dt><dd>{_status(e.verdict.status)} "
           f'<span class="note">{escape(e.verdict.basis)}</span></dd>',
           f"<dt>case</dt><dd>{escape(info.kind)}, {mode}, {len(case.graph.nodes)} nodes, "
           f"{len(case.annotations)} annotations</dd>"]
    if e.path is not None:
        out.append(f"<dt>file</dt><dd><code>{escape(str(e.path))}</code></dd>")
    out.append(_link(info))
    if info.tags:
        out.append(f"<dt>tags</dt><dd>{escape(', '.join(info.tags))}</dd>")
    heading = "The divergence" if info.kind in ("finding", "upstream_bug") else "What the case checks"
    out.append(f"</dl><h3>{heading}</h3>")
    out.append(f'<div class="notes">{escape(info.notes.strip())}</div>' if info.notes.strip()
               else '<p class="note">The case records no notes.</p>')
    out.append("<h3>The graph and its sharing groups</h3>")
    out.extend(_figure(e.figure))
    out.append("<h3>Reproduce</h3>")
    if e.path is not None:
        out.append("<p>A standalone torch/torchao script, and the case with its sharing groups:</p>")
        out.append(f"<pre><code>{escape(repro_command(e.path))}\n{escape(show_command(e.path))}</code></pre>")
    else:
        out.append('<p class="note">This case was given in memory, not read from a file: save it with '
                   "harness.case.files.save_case to get the repro and show commands.</p>")
    out.append("</section>")
    return out


def render_page(entries: Sequence[Entry], unreadable: Sequence[Unreadable], source: str,
                title: str = "PT2E prepare findings", timeline: Sequence[str] = ()) -> str:
    """The whole page: a table by group and status, the groups with their smallest case, the campaign's
    ``timeline`` section (HTML, :mod:`harness.tools.report_timeline`) if any, the unreadable files, one section per
    case (a group's cases together, its smallest first: ``entries`` come in that order). ``source``: the directory
    or file the cases were read from (``""`` when they were given one by one)."""
    statuses = Counter(e.verdict.status for e in entries)
    head = ", ".join(f"{statuses[s]} {s}" for s in STATUSES if statuses[s]) or "none"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8"/>',
           '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
           f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{escape(title)}</h1>",
           f"<p>{len(entries)} case{'s' if len(entries) != 1 else ''} "
           + (f"from <code>{escape(source)}</code> " if source else "")
           + f"({escape(head)}); {len(unreadable)} file{'s' if len(unreadable) != 1 else ''} could not be loaded. "
           "Class and status are what each case records; <em>unknown</em> means it records no status. A group "
           "gathers the findings of one root cause (the first invariant violated, else the kind of divergence); "
           + (f"<em>{UPSTREAM_FAILS_TOO}</em> gathers {UPSTREAM_FAILS_TOO_MEANING}; "
              if any(e.verdict.group == UPSTREAM_FAILS_TOO for e in entries) else "")
           + "every case has its own section below.</p>"]
    out.append('<section id="summary"><h2>Findings by group and status</h2>')
    out.extend(_summary_table(entries) if entries else ['<p class="note">No cases.</p>'])
    if entries:
        out.append(f"<h2>The groups, by their smallest case ({len(_groups(entries))})</h2>")
        out.extend(_index_table(entries))
    out.append("</section>")
    out.extend(timeline)
    if unreadable:
        out.append('<section id="unreadable"><h2>Files that could not be loaded</h2><ul>')
        out.extend(f'<li><code>{escape(str(u.path))}</code>: <span class="error">{escape(u.error)}</span></li>'
                   for u in unreadable)
        out.append("</ul></section>")
    for i, e in enumerate(entries, 1):
        out.extend(_section(i, e))
    out.append("</body></html>")
    return "\n".join(line for line in out if line) + "\n"
