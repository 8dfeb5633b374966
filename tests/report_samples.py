"""Report samples shared by the report's tests (``tests/tools/test_report*.py``): corpus cases by name, and two
findings directories as fixtures: ``corpus_dir`` (two upstream bugs, a conformance case, a case with markup in its
title and notes, a broken file) and ``fuzz_dir`` (what a campaign against one seeded bug writes: three findings of one
group, and a known upstream bug)."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import pytest

from harness import case as C
from harness.case.files import load_case, save_case
from harness.check.run import UPSTREAM, check_case, load_function
from harness.fuzz.worker import finding_case

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
UPSTREAM_BUGS = ("cycle-of-shared-specs-0dae906058ed.json", "cat-of-the-same-node-twice-71a0513e1140.json")
CONFORMANCE = "cat-of-two-convs-shares-inputs-and-output-6f2658385101.json"
EVIL_TITLE = 'evil <script>alert("x")</script> & co'


def case_named(name: str) -> C.Case:
    directory = "upstream_bugs" if name in UPSTREAM_BUGS else "conformance"
    return load_case(CORPUS / directory / name)


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    """Two upstream bugs and a conformance case (in sub-directories), a case with markup in its title and notes,
    and a broken JSON file."""
    root = tmp_path / "findings"
    (root / "upstream").mkdir(parents=True)
    (root / "more" / "deeper").mkdir(parents=True)
    for name in UPSTREAM_BUGS:
        shutil.copy(CORPUS / "upstream_bugs" / name, root / "upstream" / name)
    shutil.copy(CORPUS / "conformance" / CONFORMANCE, root / "more" / CONFORMANCE)
    evil = case_named(CONFORMANCE)
    save_case(replace(evil, info=replace(evil.info, title=EVIL_TITLE, kind="finding", link="",
                                         notes="partition: <b>bold</b> & <img src=x onerror=alert(1)>")),
              root / "more" / "deeper")
    (root / "broken.json").write_text('{"graph": [1, 2', encoding="utf-8")
    return root


# conformance cases the mutant that does not share an input edge with its producer's output fails, each with another
# fine-grained signature: one root cause (the first invariant violated), three findings; the smallest has 8 nodes
ONE_BUG = ("cat-of-two-convs-shares-inputs-and-output-6f2658385101.json", "three-adds-implicit-sharing-on-626fbbb4b5e2.json",
           "two-cats-transitive-sharing-anchored-on-first-in-f5ceb8631e54.json")
GROUP = "invariant:one_observer_per_group"


@pytest.fixture
def fuzz_dir(tmp_path) -> Path:
    """What a campaign against that mutant writes (three findings of one group), and a known upstream bug."""
    root = tmp_path / "fuzz-findings"
    mutant = load_function("harness.mutants:no_output_sharing")
    for name in ONE_BUG:
        report = check_case(case_named(name), mutant)
        assert report.failed and report.triage == "new", name
        save_case(finding_case(report), root)
    save_case(finding_case(check_case(case_named(UPSTREAM_BUGS[0]), load_function(UPSTREAM))), root)
    return root
