"""The quantizer-bug corpus, ``corpus/quantizer_bugs/``: one judged bug of a real quantizer (or of the torchao
steps the quantizer campaign runs around it) per file, replayed as a regression test.

An entry is an ordinary case file (``pt2e-case/1``, :mod:`harness.case.files`; every tool that reads ``corpus/``
reads it) whose info says what to replay and what must happen:

* ``info.kind`` is ``"quantizer_bug"``; ``info.quantizer`` the factory, ``harness.quantizers:NAME`` (only those:
  replaying an entry imports nothing else); ``is_qat`` whether it is replayed through the factory's QAT
  configuration; ``quantizer_config`` its configuration variant (``""``: the default); ``strict_export`` whether
  its graph is exported strict, as the quantizer campaign exports one case in four;
* the graph is the model's exported graph, without annotations: the quantizer annotates it anew, as the quantizer
  campaign and the plugin's saved graphs do (:func:`harness.suite.checks.quantizer_case.check_with_quantizer`);
  ``expected`` is the reference's result on it (nothing annotated, nothing observed), so the prepare replay of
  ``corpus/`` agrees on it;
* ``info.failure`` is the failure the quantizer campaign reports on the graph, its name-free signature (the check
  and the problem class, :func:`harness.suite.checks.quantizer_case.problem_class`; a known bug of torchao's steps
  is its id); ``info.upstream`` ``crashes`` or ``wrong`` while the bug is there, ``fixed`` once upstream fixed it (the
  quantizer must then pass: the entry stays a regression test);
* ``info.tags[0]`` is the bug's id (the file is ``<id>.json``), ``info.title`` starts ``bug N:`` with its number
  in ``docs/upstream-bugs.md`` ("Bugs found in real quantizers"), ``info.link`` the upstream source, ``info.notes``
  the judgement in short.

Writing an entry: :func:`entry_case` from a graph (``harness.fx.extract.extract_graph`` of the exported model), then
:func:`save_entry`. The replay (it needs the quantizer suite, a layer above this one) is
``tests/corpus/test_quantizer_bugs.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Union

from harness import case as C
from harness.case.files import dumps, load_case
from harness.case.jsonform import CaseFormatError
from harness.common.atomic import write_atomic
from harness.corpus.scenarios import expected_from_reference

__all__ = ["DIRECTORY", "PROJECT_CORPUS", "KIND", "FACTORY_MODULE", "UPSTREAM_STATES", "QuantizerBugEntry", "entry_case",
           "entry_of", "load_entries", "save_entry"]

DIRECTORY = "quantizer_bugs"  # under corpus/
PROJECT_CORPUS = Path(__file__).resolve().parents[2] / "corpus"  # the project's corpus/, beside the harness package
KIND = "quantizer_bug"
FACTORY_MODULE = "harness.quantizers"
UPSTREAM_STATES = ("crashes", "wrong", "fixed")
_FACTORY = re.compile(rf"^{re.escape(FACTORY_MODULE)}:[A-Za-z_]\w*$")
_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_NUMBER = re.compile(r"^bug (\d+): ")


@dataclass(frozen=True)
class QuantizerBugEntry:
    """One entry of the quantizer-bug corpus: its file and its case, with what the case's info says by name."""

    path: Path
    case: C.Case

    @property
    def id(self) -> str:
        return self.case.info.tags[0]

    @property
    def number(self) -> int:
        """Its number in docs/upstream-bugs.md's list of bugs found in real quantizers."""
        return int(_NUMBER.match(self.case.info.title).group(1))

    @property
    def quantizer(self) -> str:
        return self.case.info.quantizer

    @property
    def failure(self) -> str:
        return self.case.info.failure

    @property
    def fixed(self) -> bool:
        return self.case.info.upstream == "fixed"


def _problem(path: Path, case: C.Case) -> str:
    """What is wrong with ``case`` as the entry in ``path`` ("" when nothing is)."""
    info = case.info
    checks = (
        (info.kind == KIND, f"info.kind is {info.kind!r}, expected {KIND!r}"),
        (bool(_FACTORY.match(info.quantizer)), f"info.quantizer {info.quantizer!r} is not {FACTORY_MODULE}:NAME"),
        (bool(info.failure), "no info.failure (the failure the quantizer campaign reports)"),
        (bool(info.tags) and bool(_ID.match(info.tags[0])), "info.tags[0] is not a bug id (lower-case-words)"),
        (bool(info.tags) and path.name == f"{info.tags[0]}.json", "the file is not named <info.tags[0]>.json"),
        (bool(_NUMBER.match(info.title)), "info.title does not start 'bug N: ' (its number in the docs list)"),
        (info.link.startswith("https://"), f"no public link (info.link={info.link!r})"),
        (info.upstream in UPSTREAM_STATES, f"info.upstream is {info.upstream!r}, expected one of {UPSTREAM_STATES}"),
        (bool(info.notes), "no notes (the judgement)"),
        (not case.annotations, "annotations (the quantizer annotates the graph anew)"),
    )
    return "; ".join(text for ok, text in checks if not ok)


def entry_of(path: Union[str, Path]) -> QuantizerBugEntry:
    """The entry in the file ``path``: a :class:`CaseFormatError` naming the file when it is not a case, or not an
    entry of this corpus (the module docstring's rules)."""
    path = Path(path)
    case = load_case(path)
    problem = _problem(path, case)
    if problem:
        raise CaseFormatError(str(path), "info", problem)
    return QuantizerBugEntry(path, case)


def load_entries(corpus: Union[str, Path]) -> list[QuantizerBugEntry]:
    """Every entry under ``corpus/quantizer_bugs`` (``corpus`` the corpus root), sorted by file name."""
    return [entry_of(p) for p in sorted((Path(corpus) / DIRECTORY).glob("*.json"))]


def entry_case(graph: C.Graph, *, bug_id: str, number: int, title: str, quantizer: str, failure: str, link: str,
               notes: str, is_qat: bool = False, upstream: str = "crashes", quantizer_config: str = "",
               strict_export: bool = False) -> C.Case:
    """The case of an entry (``quantizer``: the factory's name in :data:`FACTORY_MODULE`, or the full
    ``harness.quantizers:NAME``), with the reference's result on the graph as ``expected``."""
    name = quantizer if ":" in quantizer else f"{FACTORY_MODULE}:{quantizer}"
    info = C.Info(title=f"bug {number}: {title}", kind=KIND, link=link, notes=notes, upstream=upstream,
                  tags=(bug_id,), quantizer=name, failure=failure)
    case = C.Case(graph, (), is_qat, None, info)
    if quantizer_config or strict_export:
        case = replace(case, quantizer_config=quantizer_config, strict_export=strict_export)
    case = replace(case, expected=expected_from_reference(case))
    problem = _problem(Path(f"{bug_id}.json"), case)
    if problem:
        raise ValueError(f"not a quantizer-bug entry: {problem}")
    return case


def save_entry(case: C.Case, corpus: Union[str, Path]) -> Path:
    """Write ``case`` as ``corpus/quantizer_bugs/<id>.json`` (atomically) and return the path."""
    directory = Path(corpus) / DIRECTORY
    path = directory / f"{case.info.tags[0]}.json"
    problem = _problem(path, case)
    if problem:
        raise ValueError(f"not a quantizer-bug entry: {problem}")
    directory.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, dumps(case).encode("utf-8"))
