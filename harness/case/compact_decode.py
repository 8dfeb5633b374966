"""The compact encoding of case JSON ("runs"): repeated structure stored once; this module reads it back.

The rule: a compact document is plain ``pt2e-case/1`` JSON data in which runs of items that differ only by
integers counting up by one are written once, as a template and a count; :func:`expand` turns it back into the
plain data, refusing before it expands anything a run that would exceed the decoder's limits. Writing it is
``harness.case.compact_encode``; ``harness.case.files.dumps`` uses it for large cases only.

A compact document is the plain case object with one more top-level field, ``"encoding": "runs/1"`` (plain
documents have no ``encoding``, so every ``pt2e-case/1`` file ever written reads as before). Outside run items:

* an array element that is an object with the single key ``"run"`` is a run::

      {"run": {"count": 1999, "start": 1, "item": TEMPLATE}}            -> TEMPLATE at i = 1, 2, ..., 1999
      {"run": {"count": 2000, "start": 0, "item": "out:relu_{i}", "order": "text"}}

  ``count`` >= 1 items are made from the template with ``i = start, start + 1, ...``, in that order, or, with
  ``"order": "text"`` (string templates only), sorted as text (how canonical forms sort their keys);
* an object key ``"{runs}"`` holds an array (which may contain runs) of ``[key, value]`` pairs added to the
  object, so ``{"{runs}": [{"run": {"count": 2000, "start": 0, "item": ["out:relu_{i}", 1]}}]}`` is the object
  ``{"out:relu_0": 1, ..., "out:relu_1999": 1}``;
* everything else is literal. A writer escapes a literal array element ``{"run": ...}`` as a one-item run, and a
  literal key ``"{runs}"`` as a pair inside ``"{runs}"``.

Templates (run items) are literal JSON except that every string in them, object keys included, is a pattern:
``{i}``, ``{i+N}`` and ``{i-N}`` (N: 1 to ``MAX_OFFSET_DIGITS`` digits) stand for the decimal number ``i``,
``i + N`` and ``i - N`` (never negative), ``{{`` and ``}}`` for ``{`` and ``}``, and any other brace is an error. A
template holds no runs (runs do not nest), so what a run costs is known before it is expanded: ``count`` times the
size of its template.
Node names are identifiers and cannot contain braces, so ``relu_{i}`` is never a name.

Limits, checked before expanding: the items of ``graph.nodes`` and ``annotations`` (runs counted by ``count``)
stay within ``MAX_NODES`` and ``MAX_ANNOTATIONS``, and all runs of a document together expand to at most
``MAX_EXPANDED_BYTES`` of compact JSON (all three defined in :mod:`harness.case.limits`). Errors are
:class:`CaseFormatError` naming the run, e.g. ``graph.nodes[1].run.count``; errors found later by the decoder name
the expanded position (``graph.nodes[1500]``).
"""

from __future__ import annotations

import json
import re
from typing import Any, Union

from harness.case.decode_fields import FieldReader, describe
from harness.case.jsonform import CaseFormatError, DuplicateKey
from harness.case.limits import MAX_ANNOTATIONS, MAX_EXPANDED_BYTES, MAX_NODES, MAX_OFFSET_DIGITS

__all__ = [
    "ENCODING",
    "ENCODING_KEY",
    "RUN",
    "RUNS_KEY",
    "MAX_EXPANDED_BYTES",
    "expand",
    "is_compact",
    "parse_pattern",
    "is_run_marker",
    "template_patterns",
    "instance",
]

ENCODING_KEY = "encoding"
ENCODING = "runs/1"
RUN = "run"
RUNS_KEY = "{runs}"
_PER_ITEM_BYTES = 8  # what an expanded item costs besides its text (so a run of empty strings is not free)
_LIMITS = {"graph.nodes": MAX_NODES, "annotations": MAX_ANNOTATIONS}
_TOKEN = re.compile(r"\{\{|\}\}|\{i(?:([+-])(\d{1,%d}))?\}|[{}]" % MAX_OFFSET_DIGITS)

Pattern = tuple[Union[str, int], ...]  # literal text and offsets from i


def is_compact(data: Any) -> bool:
    """Whether ``data`` is a compact document (a top-level object with an ``encoding`` field)."""
    return isinstance(data, dict) and ENCODING_KEY in data


def is_run_marker(value: Any) -> bool:
    """Whether an array element reads as a run: an object whose only key is ``"run"``."""
    return isinstance(value, dict) and len(value) == 1 and RUN in value


def parse_pattern(text: str) -> Pattern:
    """The parts of a template string: literal text and integer offsets from ``i``; ValueError if malformed."""
    parts: list[Union[str, int]] = []
    literal = ""
    pos = 0
    for m in _TOKEN.finditer(text):
        literal += text[pos:m.start()]
        pos = m.end()
        token = m.group(0)
        if token in ("{{", "}}"):
            literal += token[0]
        elif token in ("{", "}"):
            raise ValueError(f"stray {token!r} at {m.start()} (write {token * 2!r} for a brace)")
        else:
            if literal:
                parts.append(literal)
                literal = ""
            offset = int(m.group(2) or 0)
            parts.append(-offset if m.group(1) == "-" else offset)
    literal += text[pos:]
    if literal or not parts:
        parts.append(literal)
    return tuple(parts)


class _Expander(FieldReader):
    """Expands one compact document, keeping count of what its runs cost."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.budget = MAX_EXPANDED_BYTES

    def value(self, data: Any, path: str) -> Any:
        if isinstance(data, list):
            return self.items(data, path)
        if isinstance(data, dict):
            return self.mapping(data, path)
        return data

    def mapping(self, data: dict, path: str) -> dict:
        out = {key: self.value(v, f"{path}.{key}" if path else str(key))
               for key, v in data.items() if key != RUNS_KEY}
        if RUNS_KEY not in data:
            return out
        p = f"{path}.{RUNS_KEY}" if path else RUNS_KEY
        for i, pair in enumerate(self.items(self.array(data[RUNS_KEY], p), p)):
            if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str):
                self.fail(f"{p}[{i}]", f"expected a [key, value] pair, got {describe(pair)}")
            if pair[0] in out:
                self.fail(f"{p}[{i}]", f"duplicate key {pair[0][:60]!r}")
            out[pair[0]] = pair[1]
        return out

    def items(self, data: list, path: str) -> list:
        runs = {i: self.run(x, f"{path}[{i}]") for i, x in enumerate(data) if is_run_marker(x)}
        limit = _LIMITS.get(path)
        total = 0
        for i in range(len(data)):
            total += runs[i][0] if i in runs else 1
            if limit is not None and total > limit:
                where = f"{path}[{i}].run.count" if i in runs else path
                self.fail(where, f"too many entries ({total} or more > {limit})")
        for i, (count, _, item, _) in runs.items():
            size = self.size(item, f"{path}[{i}].run.item") + _PER_ITEM_BYTES
            if count * size > self.budget:
                self.fail(f"{path}[{i}].run.count", f"{count} items of {size} bytes expand beyond the limit of "
                                                    f"{MAX_EXPANDED_BYTES} bytes for a case")
            self.budget -= count * size
        out: list = []
        for i, x in enumerate(data):
            if i in runs:
                out.extend(self.instances(*runs[i], f"{path}[{i}].run"))
            else:
                out.append(self.value(x, f"{path}[{i}]"))
        return out

    def run(self, data: dict, path: str) -> tuple[int, int, Any, bool]:
        """``(count, start, item, by_text)`` of a run marker."""
        path = f"{path}.run"
        body = self.obj(data[RUN], path, ("count", "start", "item"), ("order",))
        count = self.integer(body["count"], f"{path}.count")
        start = self.integer(body["start"], f"{path}.start")
        if count < 1:
            self.fail(f"{path}.count", f"a run has at least one item, got {count}")
        if start < 0:
            self.fail(f"{path}.start", f"a run starts at 0 or more, got {start}")
        order = body.get("order", "index")
        if order not in ("index", "text"):
            self.fail(f"{path}.order", f"expected 'index' or 'text', got {describe(order)}")
        if order == "text" and not isinstance(body["item"], str):
            self.fail(f"{path}.item", "a run in text order has a string template")
        return count, start, body["item"], order == "text"

    def size(self, item: Any, path: str) -> int:
        """The length of ``item`` as compact JSON."""
        try:
            return len(json.dumps(item, separators=(",", ":"), allow_nan=False))
        except (TypeError, ValueError) as e:
            return self.fail(path, f"not JSON data ({e})")

    def instances(self, count: int, start: int, item: Any, by_text: bool, path: str) -> list:
        patterns: dict[str, Pattern] = {}
        self.patterns(item, f"{path}.item", patterns, start)
        try:
            out = [_instance(item, i, patterns) for i in range(start, start + count)]
        except DuplicateKey as e:
            return self.fail(f"{path}.item", f"two keys of the template give the key {str(e)[:60]!r}")
        return sorted(out) if by_text else out

    def patterns(self, item: Any, path: str, into: dict[str, Pattern], start: int) -> None:
        """Parse every string of a template into ``into``, checking that no placeholder can go negative."""
        if isinstance(item, str):
            if item not in into:
                try:
                    into[item] = parse_pattern(item)
                except ValueError as e:
                    self.fail(path, f"bad template {item[:60]!r}: {e}")
                low = min((p for p in into[item] if isinstance(p, int)), default=0)
                if start + low < 0:
                    self.fail(path, f"template {item[:60]!r} gives a negative number at i = {start}")
        elif isinstance(item, list):
            for i, x in enumerate(item):
                self.patterns(x, f"{path}[{i}]", into, start)
        elif isinstance(item, dict):
            for key, x in item.items():
                self.patterns(key, f"{path}.{key}", into, start)
                self.patterns(x, f"{path}.{key}", into, start)


def _instance(item: Any, i: int, patterns: dict[str, Pattern]) -> Any:
    if isinstance(item, str):
        return "".join(p if isinstance(p, str) else str(i + p) for p in patterns[item])
    if isinstance(item, list):
        return [_instance(x, i, patterns) for x in item]
    if isinstance(item, dict):
        out = {}
        for k, x in item.items():
            key = _instance(k, i, patterns)
            if key in out:
                raise DuplicateKey(key)
            out[key] = _instance(x, i, patterns)
        return out
    return item




def template_patterns(item: Any) -> dict[str, Pattern]:
    """The parsed patterns of every string in template ``item`` (ValueError if one is malformed)."""
    into: dict[str, Pattern] = {}
    _collect(item, into)
    return into


def instance(item: Any, i: int, patterns: dict[str, Pattern]) -> Any:
    """Template ``item`` at index ``i``, given its :func:`template_patterns` (ValueError on a duplicate key)."""
    return _instance(item, i, patterns)


def _collect(item: Any, into: dict[str, Pattern]) -> None:
    if isinstance(item, str):
        if item not in into:
            into[item] = parse_pattern(item)
    elif isinstance(item, list):
        for x in item:
            _collect(x, into)
    elif isinstance(item, dict):
        for k, x in item.items():
            _collect(k, into)
            _collect(x, into)


def expand(data: Any, source: str = "<memory>") -> Any:
    """The plain data of a compact document; any other data is returned as it is.

    Raises :class:`CaseFormatError` naming ``source`` and the path of a malformed or too large run.
    """
    if not is_compact(data):
        return data
    reader = _Expander(source)
    if data[ENCODING_KEY] != ENCODING:
        reader.fail(ENCODING_KEY, f"unknown encoding {describe(data[ENCODING_KEY])} (expected {ENCODING!r})")
    plain = reader.value({k: v for k, v in data.items() if k != ENCODING_KEY}, "")
    if ENCODING_KEY in plain:
        raise CaseFormatError(source, RUNS_KEY, f"a pair may not give the field {ENCODING_KEY!r}")
    return plain
