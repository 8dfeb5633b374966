"""Reading and writing corpus files: one case per JSON file (never pickle, nothing executed on load).

A file is named by its content, ``<slug of the title>-<first 12 hex digits of the sha256 of the canonical
JSON>.json`` (the canonical JSON of the plain form, so the name does not depend on how the file is encoded), and
written atomically (temporary file in the same directory, fsync, ``os.replace``), so
saving the same case twice, even from many processes at once, leaves exactly one intact file. The JSON
form lives in ``harness.case.encode`` and ``harness.case.decode`` (with its validation); errors are
``harness.case.jsonform.CaseFormatError`` naming the file and the field.

Small cases are written in the plain form, indented. A case whose plain text would exceed
:data:`COMPACT_ABOVE` bytes is written in the compact encoding of ``harness.case.compact_decode`` (repeated structure
stored once as runs), indented if that stays within :data:`COMPACT_ABOVE` bytes, else without whitespace. Both
forms load; every file ever written in the plain form keeps loading.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Optional, Union

from harness import case as C
from harness.case.compact_decode import expand
from harness.case.compact_encode import compress
from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.case.jsonform import CaseFormatError, DuplicateKey
from harness.case.limits import MAX_FILE_BYTES
from harness.common.atomic import write_atomic

__all__ = [
    "MAX_FILE_BYTES",
    "COMPACT_ABOVE",
    "dumps",
    "loads",
    "case_digest",
    "case_filename",
    "load_case",
    "iter_cases",
    "save_case",
]

COMPACT_ABOVE = 64 * 1024  # bytes of plain text above which a case is written compact

PathLike = Union[str, "os.PathLike[str]"]




def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def dumps(case: C.Case, compact: Optional[bool] = None) -> str:
    """The file text of a case: stable, ASCII JSON (sorted keys, trailing newline).

    ``compact`` None chooses by size (see the module docstring); True or False forces the compact or plain form.
    Validates the case first, and the size of the text (``MAX_FILE_BYTES``, :mod:`harness.case.limits`): a case
    that could not be loaded back is never written.
    """
    data = case_to_json(case)
    case_from_json(data, "<case to save>")
    text = _form(data, compact)
    if len(text) > MAX_FILE_BYTES:
        raise CaseFormatError("<case to save>", "", f"too large to save ({len(text)} bytes > {MAX_FILE_BYTES})")
    return text


def _form(data: dict, compact: Optional[bool]) -> str:
    plain = _text(data, indent=1)
    if compact is False or (compact is None and len(plain) <= COMPACT_ABOVE):
        return plain
    packed = compress(data)
    if _text(expand(packed, "<case to save>"), None) != _text(data, None):
        return plain  # only a bug in compress gets here; the plain form always holds the case
    text = _text(packed, indent=1)
    return text if len(text) <= COMPACT_ABOVE else _text(packed, None)


def _text(data: Any, indent: Optional[int]) -> str:
    """JSON text with sorted keys: indented, or (``indent`` None) without any whitespace."""
    separators = None if indent is not None else (",", ":")
    try:
        return json.dumps(data, sort_keys=True, indent=indent, separators=separators, ensure_ascii=True,
                          allow_nan=False) + "\n"
    except (TypeError, ValueError) as e:
        raise CaseFormatError("<case to save>", "", f"not JSON-serialisable: {e}") from None


def loads(text: Union[str, bytes], source: str = "<memory>") -> C.Case:
    """The case in JSON ``text``; raises :class:`CaseFormatError` naming ``source``."""
    if len(text) > MAX_FILE_BYTES:
        raise CaseFormatError(source, "", f"too large ({len(text)} bytes > {MAX_FILE_BYTES})")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CaseFormatError(source, "", f"not UTF-8 text (byte {e.start})") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise CaseFormatError(source, "", f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except DuplicateKey as e:
        raise CaseFormatError(source, "", f"invalid JSON: duplicate key {str(e)[:60]!r}") from None
    except ValueError as e:
        raise CaseFormatError(source, "", f"invalid JSON: {e}") from None
    except RecursionError:
        raise CaseFormatError(source, "", "invalid JSON: nested too deeply") from None
    return case_from_json(data, source)


def case_digest(case: C.Case) -> str:
    """The sha256 (hex) of the canonical JSON of a case's plain form (sorted keys, no whitespace), whatever form
    its file is written in."""
    data = case_to_json(case)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:48].strip("-")
    return slug or "case"


def case_filename(case: C.Case) -> str:
    """``<slug of the title>-<sha256[:12]>.json``."""
    return f"{_slug(case.info.title)}-{case_digest(case)[:12]}.json"


def load_case(path: PathLike) -> C.Case:
    """The case in the file at ``path``; any problem is a :class:`CaseFormatError` naming the file."""
    source = os.fspath(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise CaseFormatError(source, "", f"file too large ({size} bytes > {MAX_FILE_BYTES})")
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise CaseFormatError(source, "", f"cannot read: {e.strerror or e}") from None
    return loads(raw, source)


def iter_cases(directory: PathLike) -> list[tuple[Path, C.Case]]:
    """Every ``*.json`` case under ``directory`` (recursively), sorted by path."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a directory")
    return [(p, load_case(p)) for p in sorted(root.rglob("*.json")) if p.is_file()]


def save_case(case: C.Case, directory: PathLike) -> Path:
    """Write ``case`` into ``directory`` under its content name and return the path.

    Atomic and idempotent: concurrent writers of the same case all end with the same single, complete file;
    readers never see a partial file.
    """
    text = dumps(case).encode("utf-8")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    path = root / case_filename(case)
    try:
        if path.read_bytes() == text:
            return path
    except OSError:
        pass
    return write_atomic(path, text)
