"""Standalone reproduction scripts: a case as a Python file that needs only torch and torchao.

``repro_script(case)`` fills the template :mod:`harness.tools.repro_template` (a real Python file, read as
text) so that a torchao maintainer can run it without this project:

1. it builds the case's graph with ``torch.fx.Graph`` calls (placeholders; ``get_attr`` nodes reading real
   parameters and buffers registered on a root module; ``call_function`` nodes with ``torch.ops.aten`` targets),
   with the case's node names;
2. it sets a FakeTensor ``meta["val"]`` on every node, propagating through the ops under a ``FakeTensorMode``
   (as ``torch.export`` does);
3. it attaches the annotations (``QuantizationSpec`` & co. with torchao's observer classes);
4. it runs ``torchao.quantization.pt2e.prepare.prepare(gm, {}, is_qat)`` and prints what happened: the
   exception, or which annotated keys share which observer instance and how each is configured;
5. it compares that with the case's ``expected`` result (embedded as data) and exits 0 when torchao behaves as
   expected, 1 when it diverges.

An expected error (the reference raises a typed ``AnnotationError``, a ``ValueError``) is matched by torchao
raising any ``ValueError`` with a message: a clear error, as opposed to a bare ``AssertionError``, ``KeyError`` or
``RecursionError``. An expected prepared model is matched on the sharing partition of the observed keys and on
the observers' class, dtype, range, qscheme, channel axis, fixed qparams and derived-from sources (the fields of
``harness.check.canonical`` that say what is quantized how). A case without ``expected`` only has to prepare.

``python -m harness repro CASE [-o FILE]`` prints (or writes) the script.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib.resources
import pprint
import re
import sys
import textwrap
from pathlib import Path
from typing import Optional

from harness import case as C
from harness.case.files import load_case
from harness.case.jsonform import CaseFormatError
from harness.tools.repro_writer import ReproError, ScriptWriter

__all__ = ["ReproError", "repro_script", "expected_summary", "main_repro", "COMPARED_FIELDS"]

# The observer fields the script compares (see harness.check.observer_config.ObserverConfig for their meaning).
COMPARED_FIELDS = ("cls", "inner", "dtype", "quant_min", "quant_max", "qscheme", "ch_axis", "is_dynamic", "scale",
                   "zero_point", "derived_from")

_MARKER = re.compile(r"^# \{\{(\w+)\}\}\n", re.M)


@functools.lru_cache(maxsize=None)
def _template() -> tuple[str, tuple[str, ...]]:
    """The template's code after its docstring, and the names of its markers in order."""
    text = importlib.resources.files("harness.tools").joinpath("repro_template.py").read_text(encoding="utf-8")
    docstring = ast.parse(text).body[0]
    code = "".join(text.splitlines(keepends=True)[docstring.end_lineno:])
    return code, tuple(_MARKER.findall(code))


def _fill(sections: dict[str, str]) -> str:
    """The template's code with each marker line replaced by its section (an empty section: no line)."""
    code, markers = _template()
    if sorted(markers) != sorted(sections):
        raise AssertionError(f"the template's markers {markers} are not the sections {sorted(sections)}")
    return _MARKER.sub(lambda m: sections[m.group(1)] + "\n" if sections[m.group(1)] else "", code)


def _keys(case: C.Case) -> list[str]:
    """The annotated keys of the case, in annotation order (as harness.check.canonical names them)."""
    keys = []
    for a in case.annotations:
        keys.extend(f"edge:{arg}->{a.node}" for arg, spec in a.inputs if spec is not None)
        if a.output is not None:
            keys.append(f"out:{a.node}")
    return keys


def expected_summary(case: C.Case) -> dict:
    """The part of ``case.expected`` the script checks, as plain data (``{}`` without an expected result)."""
    expected = case.expected
    if expected is None or (expected.error is None and expected.canonical is None):
        return {}
    if expected.error is not None:
        return {"error": expected.error}
    canonical = expected.canonical or {}
    if canonical.get("error"):
        return {"error": str(canonical["error"].get("type", "error"))}
    groups = [{"keys": sorted(g["keys"]),
               "observer": {k: v for k, v in g.get("observer", {}).items() if k in COMPARED_FIELDS}}
              for g in canonical.get("groups", [])]
    summary = {"groups": groups, "unobserved": sorted(canonical.get("unobserved", []))}
    nodes = (canonical.get("structure") or {}).get("observer_nodes")
    if isinstance(nodes, int):
        summary["observer_nodes"] = nodes  # where the observers sit: one node per place a value is observed
    return summary


def _comment(text: str, width: int = 100) -> str:
    out = []
    for paragraph in text.splitlines() or [""]:
        out.extend("# " + line for line in (textwrap.wrap(paragraph, width - 2) or [""]))
    return "\n".join(out)


def _header(case: C.Case) -> str:
    info = case.info
    header = ["Standalone reproduction of a PT2E prepare case (needs torch and torchao only).", ""]
    header.append(f"Case: {info.title or '(untitled)'}  [{info.kind}{', QAT' if case.is_qat else ', PTQ'}]")
    optional = (("Report", info.link), ("Upstream status", info.upstream), ("Tags", ", ".join(info.tags)))
    header += [f"{label}: {value}" for label, value in optional if value]
    header += ["", "Exit status: 0 when torchao's prepare behaves as expected, 1 when it diverges."]
    body = "\n".join(line.replace('"""', "'''").replace("\\", "\\\\") for line in header)
    return f'"""{body}\n"""'


def repro_script(case: C.Case) -> str:
    """A standalone script (torch + torchao only) that reproduces ``case`` against torchao's prepare.

    Raises :class:`ReproError` for a case that cannot be written (unknown names, malformed nodes).
    """
    # Imported here, not at the top: it imports torch, and ``harness.__main__`` imports this module at start-up
    # for every command (``python -m harness --help`` stays fast).
    from harness.tools import repro_sources

    if not isinstance(case, C.Case):
        raise ReproError(f"expected a Case, got {type(case).__name__}")
    writer = ScriptWriter(case)
    graph_lines, inputs = writer.graph_lines()
    annotation_lines = writer.annotation_lines()
    info = case.info
    data = [
        f"TITLE = {info.title!r}",
        f"LINK = {info.link!r}",
        f"IS_QAT = {case.is_qat!r}",
        "INPUTS = {" + ", ".join(f"{k!r}: ({shape!r}, {writer.dtype(dtype)})" for k, (shape, dtype) in inputs.items())
        + "}",
        "KEYS = " + pprint.pformat(_keys(case), width=110, compact=True),
        f"COMPARED = {COMPARED_FIELDS!r}",
        "PER_CHANNEL = {" + ", ".join(repr(q) for q in repro_sources.per_channel_qscheme_names()) + "}",
        "EXPECTED = " + pprint.pformat(expected_summary(case), width=110, compact=True),
    ]
    derive_functions = repro_sources.derive_function_sources(writer.derive_fns)
    sections = {
        "notes": _comment(info.notes) if info.notes else "",
        "observer_imports": "".join(f"from {module} import {', '.join(sorted(classes))}\n"
                                    for module, classes in sorted(writer.imports.items())).rstrip("\n"),
        "derive_functions": derive_functions + "\n\n" if derive_functions else "",
        "data": "\n".join(data),
        "graph": "\n".join(graph_lines),
        "annotations": "\n".join(writer.spec_lines + annotation_lines),
    }
    return _header(case) + "\n" + _fill(sections)


def main_repro(argv: Optional[list[str]] = None) -> int:
    """``python -m harness repro CASE [-o FILE]``: print or write the standalone script. Exit 0, or 2 on errors."""
    parser = argparse.ArgumentParser(prog="python -m harness repro",
                                     description="Print a standalone torch/torchao script reproducing CASE.")
    parser.add_argument("case", help="a corpus case (JSON file)")
    parser.add_argument("-o", "--output", help="write the script to this file instead of printing it")
    args = parser.parse_args(argv)
    try:
        script = repro_script(load_case(args.case))
    except (CaseFormatError, ReproError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.output:
        try:
            Path(args.output).write_text(script, encoding="utf-8")
        except OSError as e:
            print(f"error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
            return 2
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(script)
    return 0
