"""harness.tools.report in a real browser: the page rendered in headless Chromium, and what a person sees measured
(nothing past the right edge of a 1280 px window, however long the signatures). Skipped, saying so, without a
browser on ``PATH``; ``.ci/run`` installs Debian's chromium, and the run's summary names the main test's outcome
(it is marked ``logged``)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import pytest

from harness.case.files import load_case
from harness.tools.report import write_report
from harness.tools.report_status import NEW, PASSES
from report_samples import CONFORMANCE, GROUP, case_named, corpus_dir, fuzz_dir  # noqa: F401 - fixtures


def _browser_or_skip() -> str:
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no chromium, chromium-browser or google-chrome on PATH (Debian: apt-get install -y chromium)")
    return browser


# Appended to a copy of the page (the page itself has no script): what the browser laid out, as JSON in the DOM.
_MEASURE = """<script>
const box = e => { const r = e.getBoundingClientRect(); return [Math.round(r.left), Math.round(r.right),
                                                                Math.round(r.width), Math.round(r.height)]; };
const seen = {viewport: document.documentElement.clientWidth, scroll: document.documentElement.scrollWidth,
  tables: [...document.querySelectorAll("table")].map(t => [t.className, ...box(t)]),
  cells: Math.max(...[...document.querySelectorAll("td, th")].map(c => box(c)[1])),
  svgs: [...document.querySelectorAll("section.case svg")].map(box),
  texts: (() => { let right = 0; const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                  for (let n; (n = walk.nextNode());) { const r = document.createRange(); r.selectNodeContents(n);
                                                      right = Math.max(right, r.getBoundingClientRect().right); }
                  return Math.round(right); })(),
  index: [...document.querySelectorAll("table.index tbody tr")].map(tr => [...tr.cells].map(c => c.innerText))};
const out = document.createElement("pre"); out.id = "measured"; out.textContent = JSON.stringify(seen);
document.body.appendChild(out);
</script>"""


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                           f"--user-data-dir={profile}", "--window-size=1280,2400", *args],
                          capture_output=True, text=True, timeout=120)


def _measured(browser: str, page: Path, tmp_path: Path) -> dict:
    """What the browser laid out for ``page`` (:data:`_MEASURE`, run in a copy of it)."""
    measuring = tmp_path / "measured.html"
    measuring.write_text(page.read_text(encoding="utf-8").replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    dom = _chromium(browser, tmp_path / "profile", "--dump-dom", measuring.as_uri())
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stdout[-2000:] + dom.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.slow
@pytest.mark.logged  # CI's log names its outcome: ran, or skipped for want of a browser
def test_a_headless_browser_renders_the_page(corpus_dir, fuzz_dir, tmp_path):
    """What a person sees in Chromium (1280 px wide): the tables and the pictures, nothing cut at the right edge
    however long the signatures; the screenshot is kept as ``report.png`` in the test's temporary folder."""
    browser = _browser_or_skip()
    out = write_report([corpus_dir, fuzz_dir], tmp_path / "report.html")
    png = tmp_path / "report.png"
    shot = _chromium(browser, tmp_path / "profile", f"--screenshot={png}", out.as_uri())
    assert png.exists(), f"{browser} wrote no screenshot (exit {shot.returncode}): {shot.stderr[-2000:]}"
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000  # a blank 1280x2400 page is ~10 kB

    dom = _chromium(browser, tmp_path / "profile", "--dump-dom", out.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    cases = [load_case(p) for d in (corpus_dir, fuzz_dir) for p in d.rglob("*.json") if p.name != "broken.json"]
    for case in cases:
        title = case.info.title
        assert title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in dom.stdout, title
    assert "<script" not in dom.stdout  # the title's markup stayed text in the browser too
    assert dom.stdout.count('<section class="case"') == 8 and dom.stdout.count("<svg") == 8

    seen = _measured(browser, out, tmp_path)
    width = seen["viewport"]
    assert width == 1280 and seen["scroll"] <= width, seen  # no horizontal scrolling: nothing is cut off
    assert {t[0] for t in seen["tables"]} == {"matrix", "index"}
    assert all(0 <= left and right <= width and w > 0 and h > 0 for _, left, right, w, h in seen["tables"]), seen
    assert seen["cells"] <= width and seen["texts"] <= width, seen  # no box, and no text in a box, past the edge
    assert len(seen["svgs"]) == 8 and all(w > 50 and h > 50 and right <= width for _, right, w, h in seen["svgs"])
    groups = {row[0]: row for row in seen["index"]}
    assert groups[GROUP][1:3] == [NEW, "3"] and "(8 nodes)" in groups[GROUP][3], groups
    assert groups["conformance"][1:3] == [PASSES, "1"], groups


@pytest.mark.slow
def test_a_long_signature_in_a_case_heading_wraps(tmp_path):
    """A finding's title is its signature, which can run to a hundred characters and more without a space (a real
    campaign's: ``upstream-fails-too partition[merged:edge~out,...];structure[...]``): its case heading wraps within
    the page, as the tables' cells do (a heading that did not ran 300 px past a 1280 px window)."""
    browser = _browser_or_skip()
    case = case_named(CONFORMANCE)
    title = ("upstream-fails-too partition[merged:edge~out,merged:edge~out,split:edge~edge];structure[chains,attached,"
             "nodes];unobserved[-edge,-out] invariant:annotated_edges_observed")
    out = write_report([replace(case, info=replace(case.info, title=title, kind="finding", link=""))],
                       tmp_path / "report.html")
    seen = _measured(browser, out, tmp_path)
    assert seen["viewport"] == 1280 and seen["scroll"] <= 1280 and seen["texts"] <= 1280, seen
