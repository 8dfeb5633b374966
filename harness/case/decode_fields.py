"""The decoder's building blocks: the checked reading of single JSON fields.

The rule: a field is accepted only if it has exactly the expected JSON type and stays within the limits of
:mod:`harness.case.limits` (defined there once, shared with the encoder);
otherwise :meth:`FieldReader.fail` raises :class:`harness.case.jsonform.CaseFormatError` naming the source and
the field path. Node names are Python identifiers that are neither keywords nor builtins, and a reference names a
node of the graph (defined before its user, where that matters). Nothing is executed and torch is never imported.
"""

from __future__ import annotations

import builtins
import keyword
import math
from typing import Any, Iterator, Optional

from harness.case.jsonform import CaseFormatError
from harness.case.limits import MAX_DEPTH, MAX_NAME_LENGTH, MAX_TEXT_LENGTH
from harness.case.names import UnknownName

__all__ = ["NONFINITE", "FieldReader", "describe"]

# the spelling of non-finite floats: {"float": "inf"}
NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class FieldReader:
    """Reads the fields of one case from ``source``; ``fail`` raises :class:`CaseFormatError` for a field path.

    ``all_names`` (every node name of the graph) and ``defined`` (node name -> index, in graph order) are filled
    by the decoder as it reads the graph; :meth:`ref` checks references against them.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.defined: dict[str, int] = {}
        self.all_names: set[str] = set()

    def fail(self, path: str, problem: str) -> Any:
        raise CaseFormatError(self.source, path, problem)

    def obj(self, data: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
        if not isinstance(data, dict):
            self.fail(path, f"expected an object, got {describe(data)}")
        for key in required:
            if key not in data:
                self.fail(path, f"missing field {key!r}")
        for key in data:
            if key not in required and key not in optional:
                self.fail(path, f"unexpected field {str(key)[:60]!r}")
        return data

    def array(self, data: Any, path: str, limit: Optional[int] = None) -> list:
        if not isinstance(data, list):
            self.fail(path, f"expected an array, got {describe(data)}")
        if limit is not None and len(data) > limit:
            self.fail(path, f"too many entries ({len(data)} > {limit})")
        return data

    def kwarg_pairs(self, data: Any, path: str, limit: int,
                    identifiers: bool = False) -> Iterator[tuple[str, str, Any]]:
        """The ``[name, value]`` pairs of the array ``data`` (at most ``limit``), as ``(path of the pair, name,
        value)``, one at a time (a pair is checked when it is reached): each name at most once and, with
        ``identifiers``, a Python identifier; the caller checks the value."""
        seen = set()
        for i, pair in enumerate(self.array(data, path, limit)):
            p = f"{path}[{i}]"
            if not isinstance(pair, list) or len(pair) != 2:
                self.fail(p, "expected a [name, value] pair")
            key = self.string(pair[0], f"{p}[0]", MAX_NAME_LENGTH)
            if identifiers and (not key.isidentifier() or key in seen):
                self.fail(f"{p}[0]", f"bad or duplicate kwarg name {key[:60]!r}")
            if key in seen:
                self.fail(f"{p}[0]", f"duplicate kwarg {key!r}")
            seen.add(key)
            yield p, key, pair[1]

    def string(self, data: Any, path: str, limit: int = MAX_TEXT_LENGTH) -> str:
        if not isinstance(data, str):
            self.fail(path, f"expected a string, got {describe(data)}")
        if len(data) > limit:
            self.fail(path, f"string too long ({len(data)} > {limit})")
        return data

    def boolean(self, data: Any, path: str) -> bool:
        if not isinstance(data, bool):
            self.fail(path, f"expected true or false, got {describe(data)}")
        return data

    def integer(self, data: Any, path: str) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail(path, f"expected an integer, got {describe(data)}")
        return data

    def opt_int(self, data: dict, key: str, path: str) -> Optional[int]:
        value = data.get(key)
        return None if value is None else self.integer(value, f"{path}.{key}")

    def number(self, data: Any, path: str) -> float:
        if isinstance(data, dict) and set(data) == {"float"} and isinstance(data["float"], str) \
                and data["float"] in NONFINITE:
            return NONFINITE[data["float"]]
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail(path, f"expected a number, got {describe(data)}")
        return float(data)

    def name(self, data: Any, path: str) -> str:
        text = self.string(data, path, MAX_NAME_LENGTH)
        if not text.isidentifier() or keyword.iskeyword(text):
            self.fail(path, f"{text!r} is not a valid node name (a Python identifier)")
        if text in builtins.__dict__:
            self.fail(path, f"{text!r} is not a valid node name (it shadows a Python builtin)")
        return text

    def allowed(self, kind: str, value: str, allowed: Any, path: str) -> str:
        if value not in allowed:
            self.fail(path, str(UnknownName(kind, value)))
        return value

    def ref(self, data: Any, path: str, before: Optional[int] = None) -> str:
        """A node name that must exist (and, with ``before``, be defined before node number ``before``)."""
        name = self.string(data, path, MAX_NAME_LENGTH)
        if name not in self.all_names:
            self.fail(path, f"unknown node {name[:60]!r}")
        if before is not None and self.defined.get(name, before) >= before:
            self.fail(path, f"node {name!r} is used before it is defined")
        return name

    def plain_json(self, data: Any, path: str, depth: int) -> None:
        """Check that ``data`` is plain, finite JSON data nested at most ``4 * MAX_DEPTH`` deep."""
        if depth > MAX_DEPTH * 4:
            self.fail(path, "nested too deeply")
        if isinstance(data, dict):
            for k, v in data.items():
                if not isinstance(k, str):
                    self.fail(path, f"object key {k!r} is not a string")
                self.plain_json(v, f"{path}.{k}", depth + 1)
        elif isinstance(data, list):
            for i, v in enumerate(data):
                self.plain_json(v, f"{path}[{i}]", depth + 1)
        elif isinstance(data, float) and not math.isfinite(data):
            self.fail(path, "non-finite number")
        elif not (data is None or isinstance(data, (bool, int, float, str))):
            self.fail(path, f"not JSON data: {describe(data)}")


def describe(value: Any) -> str:
    """A short description of a JSON value for an error message (``"an array"``, ``"the number 3"``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"[:80]
    if isinstance(value, str):
        return repr(value[:60])
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
