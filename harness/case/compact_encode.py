"""Writing the compact encoding (``harness.case.compact_decode``): finding runs of repeated structure and writing each once.

The rule: :func:`compress` returns data that ``harness.case.compact_decode.expand`` turns back into equal JSON data (the
same values of the same JSON types; only the order of object keys may change), because items become a run only
when the run's template is checked to give back every one of them. Runs are looked for

* in arrays of strings, as text-order runs: the strings of one family (the same text around their integers)
  taken in numeric order, when they form a consecutive run that sits in the array as one block sorted as text
  (canonical forms sort their keys: ``out:relu_0, out:relu_1, out:relu_10, out:relu_100, ...``);
* in arrays, among consecutive items left over: two neighbours give a template when they have the same shape and
  their strings differ only in integers (maximal digit runs, no leading zero, at most 9 digits) that are one larger
  in the second; the run goes on for as long as the template gives the next item;
* in objects, among the pairs taken in numeric order of their keys (the order of keys carries no meaning).

Runs shorter than :data:`MIN_RUN` items, or not written shorter than their items, are not written as runs. Nothing inside a run's template is compressed
further (runs do not nest); everything outside runs is, recursively.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional, Union

from harness.case.compact_decode import (
    ENCODING,
    ENCODING_KEY,
    RUN,
    RUNS_KEY,
    instance,
    is_run_marker,
    template_patterns,
)
from harness.case.limits import MAX_OFFSET_DIGITS

__all__ = ["MIN_RUN", "compress"]

MIN_RUN = 3
_DIGITS = re.compile(r"(\d+)")


class _NoTemplate(Exception):
    """Two neighbours that no template gives both of."""


class _Raw(tuple):
    """A string of a template being built: literal text and integer values (of the counting integers, at i = 0)."""


@dataclass(frozen=True)
class _Run:
    item: Any
    start: int
    count: int
    by_text: bool = False

    def marker(self) -> dict:
        body = {"count": self.count, "start": self.start, "item": self.item}
        if self.by_text:
            body["order"] = "text"
        return {RUN: body}


@dataclass(frozen=True)
class _Literal:
    value: Any


_Segment = Union[_Run, _Literal]


def compress(data: dict) -> dict:
    """The compact document of plain case JSON ``data`` (an object without an ``encoding`` field)."""
    if not isinstance(data, dict) or ENCODING_KEY in data:
        raise ValueError("compress takes the plain JSON object of a case")
    out = _object(data)
    out[ENCODING_KEY] = ENCODING
    return out


def _value(data: Any) -> Any:
    if isinstance(data, list):
        return _array(data)
    if isinstance(data, dict):
        return _object(data)
    return data


def _array(items: list) -> list:
    segments: list[_Segment] = [_Literal(x) for x in items]
    segments = _over_stretches(segments, lambda x: isinstance(x, str), _text_runs)
    segments = _over_stretches(segments, lambda x: True, _index_runs)
    out = []
    for s in segments:
        if isinstance(s, _Run):
            out.append(s.marker())
        elif is_run_marker(s.value):  # a literal that would read as a run: a run of one
            out.append(_Run(_escape(s.value), 0, 1).marker())
        else:
            out.append(_value(s.value))
    return out


def _object(data: dict) -> dict:
    pairs = [[k, v] for k, v in sorted(data.items(), key=lambda kv: _numeric_order(kv[0]))]
    out: dict = {}
    extra: list = []
    for s in _index_runs(pairs):
        if isinstance(s, _Run):
            extra.append(s.marker())
        elif s.value[0] == RUNS_KEY:  # a literal key that would read as the runs: a pair among them
            extra.append(_array([RUNS_KEY, s.value[1]]))
        else:
            out[s.value[0]] = _value(s.value[1])
    if extra:
        out[RUNS_KEY] = extra
    return out


def _over_stretches(segments: list[_Segment], fits, find) -> list[_Segment]:
    """``segments`` with each maximal stretch of literals whose values ``fits`` replaced by ``find(values)``."""
    out: list[_Segment] = []
    stretch: list = []
    for s in segments + [None]:
        if isinstance(s, _Literal) and fits(s.value):
            stretch.append(s.value)
            continue
        out.extend(find(stretch) if len(stretch) >= MIN_RUN else [_Literal(x) for x in stretch])
        stretch = []
        if s is not None:
            out.append(s)
    return out


def _index_runs(items: list) -> list[_Segment]:
    """Consecutive items as runs where a template gives them, the rest as literals."""
    out: list[_Segment] = []
    p = 0
    while p < len(items):
        run = _run_at(items, p) if p + MIN_RUN <= len(items) else None
        if run is None:
            out.append(_Literal(items[p]))
            p += 1
        else:
            out.append(run)
            p += run.count
    return out


def _run_at(items: list, p: int) -> Optional[_Run]:
    try:
        raw = _pair(items[p], items[p + 1])
    except _NoTemplate:
        return None
    start = _first_counter(raw)
    start = 0 if start is None else start
    item = _finish(raw, start)
    try:
        patterns = template_patterns(item)
        count = 0
        while p + count < len(items) and _same(instance(item, start + count, patterns), items[p + count]):
            count += 1
    except ValueError:
        return None
    run = _Run(item, start, count)
    return run if count >= MIN_RUN and _pays(run, items[p:p + count]) else None


def _pays(run: _Run, items: list) -> bool:
    """Whether ``run`` is written shorter than its items."""
    return _length(run.marker()) < sum(_length(x) + 1 for x in items)


def _length(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def _text_runs(strings: list[str]) -> list[_Segment]:
    """Blocks of ``strings`` that are one family's run sorted as text, as text-order runs."""
    if len(set(strings)) < len(strings):
        return [_Literal(s) for s in strings]
    position = {s: i for i, s in enumerate(strings)}
    families: dict[str, list[str]] = {}
    for s in strings:
        families.setdefault(_DIGITS.sub("#", s), []).append(s)
    blocks: dict[int, _Run] = {}
    for members in families.values():
        if len(members) < MIN_RUN:
            continue
        for s in _index_runs(sorted(members, key=_numeric_order)):
            if isinstance(s, _Run):
                block = sorted(instance(s.item, s.start + k, template_patterns(s.item)) for k in range(s.count))
                first = position[block[0]]
                run = _Run(s.item, s.start, s.count, by_text=True)
                if strings[first:first + len(block)] == block and _pays(run, block):
                    blocks[first] = run
    out: list[_Segment] = []
    i = 0
    while i < len(strings):
        if i in blocks:
            out.append(blocks[i])
            i += blocks[i].count
        else:
            out.append(_Literal(strings[i]))
            i += 1
    return out


def _numeric_order(text: str) -> tuple:
    parts = _DIGITS.split(text)
    return parts[0::2], [int(x) for x in parts[1::2]], text


def _pair(a: Any, b: Any) -> Any:
    """The template (strings as :class:`_Raw`) giving ``a`` at i = 0 and ``b`` at i = 1; :class:`_NoTemplate` if none."""
    if type(a) is not type(b):
        raise _NoTemplate
    if isinstance(a, str):
        pa, pb = _DIGITS.split(a), _DIGITS.split(b)
        if len(pa) != len(pb):
            raise _NoTemplate
        parts: list[Union[str, int]] = []
        for k, (x, y) in enumerate(zip(pa, pb)):
            if x == y:
                parts.append(x)
            elif k % 2 and _counts(x, y):
                parts.append(int(x))
            else:
                raise _NoTemplate
        return _Raw(parts)
    if isinstance(a, list):
        if len(a) != len(b):
            raise _NoTemplate
        return [_pair(x, y) for x, y in zip(a, b)]
    if isinstance(a, dict):
        if len(a) != len(b):
            raise _NoTemplate
        return {_pair(ka, kb): _pair(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items())}
    if repr(a) != repr(b):  # repr tells -0.0 from 0.0
        raise _NoTemplate
    return a


def _counts(x: str, y: str) -> bool:
    """Whether digit runs ``x`` then ``y`` count up by one, each written as ``str`` of its number."""
    return (len(y) <= MAX_OFFSET_DIGITS and x == str(int(x)) and y == str(int(y))
            and int(y) == int(x) + 1)


def _first_counter(raw: Any) -> Optional[int]:
    """The value (at i = 0) of the first counting integer in ``raw``, if any: the start of its run."""
    if isinstance(raw, _Raw):
        return next((p for p in raw if isinstance(p, int)), None)
    if isinstance(raw, dict):
        children: Any = [x for pair in raw.items() for x in pair]
    elif isinstance(raw, list):
        children = raw
    else:
        return None
    for x in children:
        found = _first_counter(x)
        if found is not None:
            return found
    return None


def _finish(raw: Any, start: int) -> Any:
    """The template of ``raw`` for a run starting at ``start``: counters as ``{i+N}``, braces doubled."""
    if isinstance(raw, _Raw):
        return "".join(_placeholder(p - start) if isinstance(p, int) else _braces(p) for p in raw)
    if isinstance(raw, list):
        return [_finish(x, start) for x in raw]
    if isinstance(raw, dict):
        return {_finish(k, start): _finish(v, start) for k, v in raw.items()}
    return raw


def _placeholder(offset: int) -> str:
    return "{i}" if offset == 0 else f"{{i+{offset}}}" if offset > 0 else f"{{i-{-offset}}}"


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _escape(value: Any) -> Any:
    """``value`` as a template that gives itself: every brace in its strings doubled."""
    if isinstance(value, str):
        return _braces(value)
    if isinstance(value, list):
        return [_escape(x) for x in value]
    if isinstance(value, dict):
        return {_escape(k): _escape(v) for k, v in value.items()}
    return value


def _same(x: Any, y: Any) -> bool:
    """Equal as JSON data: the same types (``True`` is not ``1``), floats by ``repr``, objects in any key order."""
    if type(x) is not type(y):
        return False
    if isinstance(x, list):
        return len(x) == len(y) and all(_same(a, b) for a, b in zip(x, y))
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(_same(v, y[k]) for k, v in x.items())
    return repr(x) == repr(y)
