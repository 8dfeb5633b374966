"""harness.tools.report: the self-contained HTML page of the findings in a corpus directory (in a real browser:
``test_report_browser.py``)."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import pytest

from harness import case as C
from harness.__main__ import main as harness_main
from harness.case.files import load_case, save_case
from harness.check.run import UPSTREAM, check_case, load_function
from harness.fuzz.worker import finding_case
from harness.tools.report import report_html, write_report
from harness.tools.report_figure import UnsafeSvg, figure, safe_inline_svg
from harness.tools.report_page import repro_command, show_command
from harness.tools.report_status import FIXED, KNOWN, NEW, PASSES, REFERENCE, STILL_FAILING, UNKNOWN, regroup, verdict
from harness.tools.show import show_svg
from report_samples import (CONFORMANCE, EVIL_TITLE, GROUP, ONE_BUG, UPSTREAM_BUGS, case_named,  # noqa: F401
                            corpus_dir, fuzz_dir)  # fixtures

URL = re.compile(r"https?://[^\s\"'<>)]+")

def _parse(page: str) -> ET.Element:
    """The page as strict XML (it is written well-formed); its doctype stripped first."""
    assert page.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(page[len("<!DOCTYPE html>\n"):])


def _text(element: ET.Element) -> str:
    return "".join(element.itertext())


def _sections(root: ET.Element) -> list[ET.Element]:
    return [s for s in root.iter("section") if s.get("class") == "case"]


def test_page_of_a_directory(corpus_dir, tmp_path):
    out = tmp_path / "site" / "report.html"
    assert write_report(corpus_dir, out) == out
    page = out.read_text(encoding="utf-8")
    root = _parse(page)
    cases = [load_case(p) for p in sorted(corpus_dir.rglob("*.json")) if p.name != "broken.json"]
    titles = {c.info.title for c in cases}
    assert len(cases) == 4 and EVIL_TITLE in titles

    # the table by group and status, with a total row counting every case; a conformance case passes
    matrix = next(t for t in root.iter("table") if t.get("class") == "matrix")
    rows = {_text(tr[0]): [_text(td) for td in tr[1:]] for tr in matrix.iter("tr")}
    header = rows.pop("group")
    assert header == [NEW, STILL_FAILING, FIXED, PASSES, "total"]
    assert rows["divergence: partition"] == ["1", "0", "0", "0", "1"]  # its title is no signature: its class
    assert rows["upstream bug: torchao crashes"] == ["0", "1", "0", "0", "1"]
    assert rows["upstream bug"] == ["0", "0", "1", "0", "1"]
    assert rows["conformance"] == ["0", "0", "0", "1", "1"]
    assert rows["total"] == ["1", "1", "1", "1", "4"]

    # one section per case, new findings first, each with its picture, its notes and its commands
    sections = _sections(root)
    assert [_text(s.find("h2")).split(". ", 1)[1] for s in sections][0] == EVIL_TITLE
    assert sorted(_text(s.find("h2")).split(". ", 1)[1] for s in sections) == sorted(titles)
    for section in sections:
        title = _text(section.find("h2")).split(". ", 1)[1]
        path = next(p for p in corpus_dir.rglob("*.json") if p.name != "broken.json" and load_case(p).info.title
                    == title)
        svgs = list(section.iter("svg"))
        assert len(svgs) == 1 and svgs[0].find("g") is not None, title
        text = _text(section)
        assert repro_command(path) in text and show_command(path) in text
        assert load_case(path).info.notes.strip() in text
    cycle = next(s for s in sections if "cycle of shared specs" in _text(s.find("h2")))
    links = [a.get("href") for a in cycle.iter("a")]
    assert links == ["https://github.com/pytorch/ao/pull/4483"]

    # the broken file is listed with its error
    unreadable = next(s for s in root.iter("section") if s.get("id") == "unreadable")
    assert "broken.json" in _text(unreadable) and "invalid JSON" in _text(unreadable)

    # untrusted text is escaped: no element came from a case file, the text reads as written
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page
    assert not [e for e in root.iter() if e.tag in ("script", "img", "b", "iframe", "object", "link")]
    assert EVIL_TITLE in _text(root) and "<img src=x onerror=alert(1)>" in _text(root)
    assert not [k for e in root.iter() for k in e.attrib if k.lower().startswith("on")]

    # self-contained: no URL but the cases' links; ids unique
    assert set(URL.findall(page)) <= {c.info.link for c in cases if c.info.link}
    assert "xmlns" not in page and "@import" not in page
    assert not [e for e in root.iter() if {"src", "href", "xlink:href"} & set(e.attrib) and e.tag != "a"]
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))
    assert {a.get("href") for a in root.iter("a") if a.get("href", "").startswith("#")} <= {f"#{i}" for i in ids}

    # html.parser agrees: every tag closed
    class Balance(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag not in ("meta",):
                self.stack.append(tag)

        def handle_startendtag(self, tag, attrs):
            pass

        def handle_endtag(self, tag):
            assert self.stack.pop() == tag

    parser = Balance()
    parser.feed(page)
    parser.close()
    assert parser.stack == []


def test_findings_of_one_root_cause_are_one_row_with_their_smallest_case(fuzz_dir):
    """The findings of one bug (different signatures, one first invariant) are one group: one row of each table,
    shown by its smallest case, with a count; every finding keeps its own section. Long text wraps in the cells."""
    page = report_html(fuzz_dir)
    root = _parse(page)
    sigs = {load_case(p).info.title for p in fuzz_dir.glob("*.json")}
    assert len(sigs) == 4  # four signatures: three of the bug, one known
    matrix = next(t for t in root.iter("table") if t.get("class") == "matrix")
    rows = {_text(tr[0]): [_text(td) for td in tr[1:]] for tr in matrix.iter("tr")}
    assert rows.pop("group") == [NEW, KNOWN, "total"]
    known = next(k for k in rows if k.startswith("known:"))
    assert rows == {GROUP: ["3", "0", "3"], known: ["0", "1", "1"], "total": ["3", "1", "4"]}

    index = next(t for t in root.iter("table") if t.get("class") == "index")
    body = [[_text(td) for td in tr] for tr in index.find("tbody")]
    assert [(r[0], r[1], r[2]) for r in body] == [(GROUP, NEW, "3"), (known, KNOWN, "1")]
    smallest = min((load_case(p) for p in fuzz_dir.glob("*.json") if load_case(p).info.link == ""),
                   key=lambda c: len(c.graph.nodes))
    assert len(smallest.graph.nodes) == 8
    assert body[0][3] == f"1. {smallest.info.title} (8 nodes)" and body[0][5] == "1\u20133"
    first = next(s for s in _sections(root) if s.get("id") == "case-1")
    assert _text(first.find("h2")) == f"1. {smallest.info.title}"
    assert len(_sections(root)) == 4  # every finding is on the page
    assert re.search(r"th, td \{[^}]*overflow-wrap: anywhere", page)  # long signatures and paths wrap


def test_a_group_of_candidates_that_raised_names_each_type_with_its_count(tmp_path):
    def raises(error):
        def prepare(model, scope, is_qat, cb=None):
            raise error("broken prepare")
        return prepare

    for name, error in zip(ONE_BUG, (AssertionError, KeyError, AssertionError)):
        save_case(finding_case(check_case(case_named(name), raises(error))), tmp_path)
    index = next(t for t in _parse(report_html(tmp_path)).iter("table") if t.get("class") == "index")
    assert [[_text(td) for td in tr][:3] for tr in index.find("tbody")] == [
        ["candidate raised: AssertionError 2, KeyError 1", NEW, "3"]]


def test_verdicts_of_real_fuzz_findings():
    """The class and status of findings as the fuzz campaign writes them (harness.fuzz.worker.finding_case)."""
    new = finding_case(check_case(case_named(CONFORMANCE), load_function("harness.mutants:no_output_sharing")))
    v = verdict(new)
    assert v.status == NEW and v.group == GROUP
    assert v.klass.startswith("divergence: partition, structure, invariant:")
    known = finding_case(check_case(case_named(UPSTREAM_BUGS[0]), load_function(UPSTREAM)))
    assert verdict(known) == replace(verdict(known), klass="divergence: different_error", status=KNOWN)
    assert verdict(known).group == f"known:{known.info.title}"
    disagrees = replace(new, info=replace(new.info, title="reference-disagrees " + new.info.title))
    assert verdict(disagrees).status == REFERENCE and verdict(disagrees).group == f"reference-disagrees {GROUP}"
    # the same failure on a case torchao fails too: its own group alone, the bug's group beside the bug's findings
    too = replace(new, info=replace(new.info, title="upstream-fails-too " + new.info.title))
    assert verdict(too).status == NEW and verdict(too).group == "upstream-fails-too"
    assert [v.group for v in regroup([(too, verdict(too))])] == ["upstream-fails-too"]
    assert [v.group for v in regroup([(too, verdict(too)), (new, verdict(new))])] == [GROUP, GROUP]
    assert [v.group for v in regroup([(too, verdict(too)), (known, verdict(known))])] == [
        "upstream-fails-too", f"known:{known.info.title}"]  # only a NEW finding's group takes it in
    assert "<em>upstream-fails-too</em> gathers new failures on cases torchao fails too" in report_html([too])
    assert "torchao fails too" not in report_html([new, too])  # no such group: the page does not explain it


@pytest.mark.parametrize("info,klass,status", [
    (C.Info(kind="finding", tags=("finding", "crash"), upstream="crashes"), "crash", NEW),
    (C.Info(kind="finding", tags=("finding", "timeout"), upstream="crashes"), "timeout", NEW),
    (C.Info(kind="finding", tags=("pt2e-plugin", "graph_structure")), "plugin check: graph_structure", NEW),
    (C.Info(kind="finding", notes="something odd"), "divergence (kind not recorded)", NEW),
    (C.Info(kind="upstream_bug", upstream="wrong"), "upstream bug: torchao gives a wrong result", STILL_FAILING),
    (C.Info(kind="upstream_bug", upstream="fixed"), "upstream bug", FIXED),
    (C.Info(kind="upstream_bug"), "upstream bug", UNKNOWN),
    (C.Info(kind="conformance"), "conformance", PASSES),
    (C.Info(kind="conformance", upstream="fixed"), "conformance", FIXED),
    (C.Info(kind="conformance", upstream="sometimes"), "conformance", UNKNOWN),
    (C.Info(kind="conformance", upstream="crashes"), "conformance: torchao crashes", STILL_FAILING),
    (C.Info(kind="scenario"), "scenario", UNKNOWN),
    (C.Info(kind="quantizer_bug", upstream="crashes", failure="annotate: annotate() raised IndexError"),
     "quantizer bug: annotate: annotate() raised IndexError", STILL_FAILING),
    (C.Info(kind="quantizer_bug", upstream="fixed", failure="annotate: annotate() raised IndexError"),
     "quantizer bug: annotate: annotate() raised IndexError", FIXED),
    (C.Info(kind="quantizer_bug"), "quantizer bug", UNKNOWN),
])
def test_verdict_reads_what_the_case_records(info, klass, status):
    v = verdict(replace(case_named(CONFORMANCE), info=info))
    assert (v.klass, v.status) == (klass, status) and v.basis


def test_unsafe_pictures_are_refused():
    svg = show_svg(case_named(CONFORMANCE))
    safe = safe_inline_svg(svg, "c7-")
    assert safe.startswith("<svg width=") and 'id="c7-arrow"' in safe and "url(#c7-arrow)" in safe
    assert "url(#arrow)" not in safe and 'id="arrow"' not in safe
    head = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    for bad in (head + "<script>alert(1)</script></svg>",
                head + '<rect width="1" onload="alert(1)"/></svg>',
                head + '<rect fill="url(http://example.com/x)"/></svg>',
                head + "<!-- --></svg>",
                head + '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml"/></foreignObject></svg>',
                head + "<rect></svg>",
                '<html xmlns="http://www.w3.org/2000/svg"/>'):
        with pytest.raises(UnsafeSvg):
            safe_inline_svg(bad)


def test_large_graphs_are_not_drawn_and_cases_in_memory_have_no_commands():
    case = case_named(CONFORMANCE)
    assert figure(case, max_nodes=3).svg == "" and "10 nodes" in figure(case, max_nodes=3).note
    page = report_html([case, (None, case_named(UPSTREAM_BUGS[0]))], max_nodes=3)
    root = _parse(page)
    assert len(_sections(root)) == 2 and not list(root.iter("svg"))
    assert "python -m harness repro" not in page and "given in memory" in page
    with pytest.raises(TypeError):
        report_html([42])


def test_a_failed_write_leaves_the_old_page(corpus_dir, tmp_path, monkeypatch):
    out = tmp_path / "report.html"
    out.write_text("old", encoding="utf-8")
    with pytest.raises(TypeError):
        write_report([corpus_dir, 42], out)
    assert out.read_text(encoding="utf-8") == "old"

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        write_report(corpus_dir / "upstream", out, max_nodes=0)
    assert out.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings", "report.html"]  # no temporary file left


def test_write_replaces_the_file_and_leaves_no_temporary(corpus_dir, tmp_path):
    out = tmp_path / "report.html"
    out.write_text("old", encoding="utf-8")
    write_report(corpus_dir / "upstream", out, max_nodes=0)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings", "report.html"]
    assert out.stat().st_mode & 0o044 == 0o044  # readable by others, not mkstemp's 0600


def test_command_line(corpus_dir, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert harness_main(["report", str(corpus_dir / "upstream"), "-o", str(out), "--max-nodes", "0"]) == 0
    assert "cycle of shared specs" in out.read_text(encoding="utf-8")
    assert harness_main(["report", str(tmp_path / "missing"), "-o", str(out)]) == 2
    assert "no such file" in capsys.readouterr().err
