"""A campaign's timeline (``OUT/timeline.jsonl``): written as the campaign goes, read back whatever happened to the
file, and drawn in the report (cases per second, lines reached, each finding when first seen)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from harness.common.timeline import TIMELINE_FILE, TimelineWriter, read_timeline
from harness.tools.report import report_html


def _write(out, label="fuzzing X"):
    w = TimelineWriter(out, label)
    w.tick(5.0, 40, 120, 0, 0)
    w.seen(7.5, "invariant:one_observer_per_group", "NEW")
    w.tick(10.0, 100, 180, 1, 1)
    w.seen(12.0, "known:ao-4421", "known")
    w.tick(15.0, 130, 181, 2, 3)
    return w


def test_the_timeline_reads_back_what_was_written(tmp_path):
    _write(tmp_path)
    tl = read_timeline(tmp_path)
    assert tl.label == "fuzzing X" and [t.cases for t in tl.ticks] == [40, 100, 130]
    assert [(f.t, f.status) for f in tl.first_seen] == [(7.5, "NEW"), (12.0, "known")]
    assert tl.ticks[-1].lines == 181 and tl.ticks[-1].findings == 3


def test_a_damaged_line_is_skipped_and_a_new_run_starts_a_new_timeline(tmp_path):
    _write(tmp_path)
    with open(tmp_path / TIMELINE_FILE, "a") as f:
        f.write('{"t": 16, "cases": 1\n["not", "a", "record"]\n{"t": "x"}\n')
    assert len(read_timeline(tmp_path).ticks) == 3
    w = TimelineWriter(tmp_path, "second run")
    w.tick(1.0, 5, None, 0, 0)
    tl = read_timeline(tmp_path)
    assert tl.label == "second run" and len(tl.ticks) == 1 and tl.ticks[0].lines is None
    assert read_timeline(tmp_path / "nowhere") is None


def test_an_unwritable_timeline_never_ends_the_campaign(tmp_path):
    (tmp_path / "a-file").write_text("")
    w = TimelineWriter(tmp_path / "a-file" / "out", "x")  # a directory that cannot be made
    w.tick(1.0, 1, None, 0, 0)
    assert isinstance(w.failed, OSError)


def test_the_report_draws_the_timeline_of_its_directory(tmp_path):
    _write(tmp_path)
    page = report_html(tmp_path)
    root = ET.fromstring(page[len("<!DOCTYPE html>\n"):])
    (section,) = [s for s in root.iter("section") if s.get("id") == "timeline"]
    svg = section.find("svg")
    assert svg is not None and svg.find("polyline[@class='rate']") is not None
    assert svg.find("polyline[@class='reach']") is not None  # a quantizer campaign's lines
    marks = svg.findall("line[@class='finding']")
    assert [m.get("stroke") for m in marks] == ["#d73027", "#999"]  # NEW red, known grey
    assert "invariant:one_observer_per_group" in "".join(section.itertext())
    assert "130 cases in 15 s, 181 quantizer lines reached" in "".join(section.itertext())


def test_no_timeline_no_section(tmp_path):
    assert 'id="timeline"' not in report_html(tmp_path)


@pytest.mark.slow
def test_a_campaign_writes_its_timeline_and_the_report_draws_it(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, TORCHAO_FORCE_SKIP_LOADING_SO_FILES="1")
    done = subprocess.run([sys.executable, "-m", "harness", "fuzz", "--seconds", "12", "--seed", "0", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    tl = read_timeline(out)
    assert tl is not None and tl.ticks and tl.ticks[-1].cases > 0, (out / TIMELINE_FILE).read_text()
    assert len(tl.first_seen) == len(list(out.glob("*.json")))  # each finding written, first seen once
    assert 'id="timeline"' in report_html(out)
