"""Replay the quantizer-bug corpus (``corpus/quantizer_bugs``, :mod:`harness.corpus.quantizer_bugs`): each entry's
graph through its quantizer, by the quantizer campaign's own check
(:func:`harness.suite.checks.quantizer_case.check_with_quantizer`, torchao's prepare as the prepare under test).

The idiom is that of the ``always`` bugs of ``tests/plugin/test_real_quantizers.py``: an open bug reproducing is the
expected state, so the test asserts it does, with the failure the entry records, and fails the day upstream fixes it
(saying so, with the link); the entry is then marked ``fixed`` (``info.upstream``) and stays a regression test, the
quantizer having to pass on its graph. The repro scripts of ``repros/`` say the same from outside the project
(``tests/repros``). An entry whose quantizer does not install here is skipped, saying what to install.
"""

from __future__ import annotations

import gc
import os
import re
from pathlib import Path

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

import pytest

from harness import quantizers
from harness.check.run import UPSTREAM, load_function
from harness.corpus.quantizer_bugs import DIRECTORY, FACTORY_MODULE, QuantizerBugEntry, load_entries
from harness.suite.checks.quantizer_case import check_with_quantizer
from harness.suite.source import QuantizerLoadError, load_quantizer_factory, qat_variant

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
DOCS = ROOT / "docs" / "upstream-bugs.md"
ENTRIES = load_entries(CORPUS)
# Arm's validate() bug (arm-validate-symint-device) needs symbolic buffer sizes from a retrace, which torch's fake
# tensor memo sometimes serves static (about one replay in ten without a garbage collection before it): each replay
# collects first, and the failure has to show in one of a few replays.
ATTEMPTS = 3


def _params() -> list:
    return [pytest.param(e, id=e.id) for e in ENTRIES]


def _replay(entry: QuantizerBugEntry):
    try:
        source = load_quantizer_factory(entry.quantizer)
    except QuantizerLoadError as e:
        if e.unavailable:
            pytest.skip(f"{entry.quantizer} does not install here: {e}")
        raise
    if entry.case.is_qat:
        source = qat_variant(source)
    candidate = load_function(UPSTREAM)
    for _ in range(ATTEMPTS):
        gc.collect()
        verdict = check_with_quantizer(entry.case, source, candidate)
        if entry.fixed or (verdict.failed and verdict.signature == entry.failure):
            break
    return verdict


@pytest.mark.slow
@pytest.mark.parametrize("entry", _params())
def test_the_quantizer_fails_as_the_entry_records(entry):
    verdict = _replay(entry)
    where = f"{entry.path.relative_to(ROOT)} (bug {entry.number} of docs/upstream-bugs.md, {entry.case.info.link})"
    if entry.fixed:
        assert not verdict.failed, f"{where}: fixed upstream, but {entry.quantizer} fails again: {verdict.text}"
        return
    assert verdict.failed, (
        f"{where}: {entry.quantizer} no longer fails on this graph: has upstream fixed it? Check with the repro "
        f"script, then set info.upstream to 'fixed' and say so in the docs list")
    assert verdict.signature == entry.failure, (
        f"{where}: {entry.quantizer} fails another way: {verdict.signature!r}, the entry records "
        f"{entry.failure!r}:\n{verdict.text}")


# ---- the entries and the docs list ---------------------------------------------------------------------------


def _docs_items() -> dict[int, str]:
    """The numbered items of docs/upstream-bugs.md's section "Bugs found in real quantizers", by number."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Bugs found in real quantizers", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^(\d+)\. ", section, flags=re.M)
    return {int(number): body for number, body in zip(parts[1::2], parts[2::2])}


def test_there_is_an_entry_for_every_bug_of_the_docs_list():
    items = _docs_items()
    assert items and sorted(items) == list(range(1, len(items) + 1)), sorted(items)
    missing = sorted(set(items) - {e.number for e in ENTRIES})
    assert not missing, f"bugs of docs/upstream-bugs.md without an entry in corpus/{DIRECTORY}: {missing}"


@pytest.mark.parametrize("entry", _params())
def test_the_docs_list_names_the_entry_under_its_bug(entry):
    item = _docs_items().get(entry.number, "")
    assert f"corpus/{DIRECTORY}/{entry.path.name}" in item, (
        f"item {entry.number} of docs/upstream-bugs.md does not name corpus/{DIRECTORY}/{entry.path.name}")
    assert entry.case.info.link in item, f"item {entry.number} does not link {entry.case.info.link}"


@pytest.mark.parametrize("entry", _params())
def test_the_entry_names_a_ready_made_factory_and_a_repro_script(entry):
    name = entry.quantizer.removeprefix(f"{FACTORY_MODULE}:")
    assert callable(getattr(quantizers, name, None)), f"{entry.path.name}: no factory {entry.quantizer}"
    if entry.case.is_qat:
        assert name in quantizers.QAT_FACTORIES, f"{entry.path.name}: QAT, but {name} has no QAT configuration"
    scripts = re.findall(r"repros/\w+\.py", entry.case.info.notes)
    assert scripts and all((ROOT / s).is_file() for s in scripts), f"{entry.path.name}: notes name no repro {scripts}"
