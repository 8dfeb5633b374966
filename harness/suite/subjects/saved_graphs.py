"""The saved graphs the suite checks again: every ``*.json`` file under the corpus directory (its subdirectories
too), in path order; none when the directory does not exist. Their annotations are not read: the quantizer
annotates each graph anew (:func:`harness.suite.checks.graph_checks.check_saved_graph`)."""

from __future__ import annotations

from pathlib import Path

from harness.suite.options import SuiteOptions
from harness.suite.subjects.subject import Subject

__all__ = ["saved_files", "saved_subjects"]


def saved_files(corpus: str) -> list[Path]:
    """The ``*.json`` files under ``corpus``, sorted (``[]`` when it is not a directory)."""
    root = Path(corpus)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.json") if p.is_file())


def saved_subjects(options: SuiteOptions) -> list[Subject]:
    """The ``saved`` subjects of a run: one per file of :func:`saved_files` in ``options.corpus``."""
    return [Subject("saved", str(p)) for p in saved_files(options.corpus)]
