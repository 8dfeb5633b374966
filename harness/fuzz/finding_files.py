"""How the driver keeps a finding a worker sent: as a corpus case if it can, else raw, else at least in words.

The rule: a finding is never lost to what a worker sent or to the disk. :func:`keep` writes the event's case data
as a corpus case (:func:`harness.case.files.save_case`: decoded and validated first); when that fails (data that
does not decode, a case too large, an ``OSError`` such as an unwritable directory or a full disk) it writes the
event as it came, its case data and its other fields, to ``OUT/raw/finding-<sha256[:12]>.json`` (atomic, named by
content); when even that fails, nothing is on disk and the driver prints the finding's summary. Each failure is
returned as a :class:`Failure` (the driver counts it as a harness error); nothing here raises an ``Exception``.
Also the way back: :func:`saved_cases`, the findings and corpus cases a campaign replays before its search.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Optional

from harness.case import Info
from harness.case.decode import case_from_json
from harness.case.jsonform import CaseFormatError
from harness.case.encode import case_to_json
from harness.case.files import load_case, save_case
from harness.common.atomic import write_atomic

__all__ = ["RAW_DIR", "Failure", "Kept", "keep", "write_raw"]

RAW_DIR = "raw"  # under OUT: findings kept as sent, when they cannot be written as cases


@dataclass(frozen=True)
class Failure:
    """Why a finding was not written as a case (or not written at all): ``key`` names the kind of failure (the
    same key is shown once), ``text`` says it in words."""

    key: str
    text: str


@dataclass(frozen=True)
class Kept:
    """Where a finding is on disk: ``path`` (None: nowhere), ``raw`` when it is the event as sent, not a case."""

    path: Optional[Path]
    raw: bool = False
    failures: tuple[Failure, ...] = ()


def keep(event: Any, directory: Path, out: Path, info: Optional[Info] = None) -> Kept:
    """Write ``event.case`` (with ``info`` instead of its own, if given) as a case in ``directory``; failing that,
    the event raw under ``out`` (see the module docstring)."""
    what = f"worker {getattr(event, 'worker', '?')}'s finding {str(getattr(event, 'signature', '?'))[:80]!r}"
    try:
        case = case_from_json(event.case)
        return Kept(save_case(case if info is None else replace(case, info=info), directory))
    except Exception as e:  # noqa: BLE001 - whatever a worker sent, or the disk said: kept raw below
        first = Failure(f"finding not written as a case ({type(e).__name__})",
                        f"{what} could not be written as a case: {type(e).__name__}: {e}")
    try:
        return Kept(write_raw(event, out, first.text), raw=True, failures=(first,))
    except Exception as e:  # noqa: BLE001 - not even raw: the driver prints the finding's summary
        second = Failure(f"finding not written at all ({type(e).__name__})",
                         f"{what} could not be written raw either ({type(e).__name__}: {e}); only its summary is "
                         "printed")
        return Kept(None, failures=(first, second))


def write_raw(event: Any, out: Path, problem: str) -> Path:
    """Write ``event`` as sent (its fields, its case data as they are; what is not JSON by its ``repr``) and
    ``problem`` to ``out/raw/finding-<sha256[:12]>.json``; raises what the disk or JSON raises."""
    if is_dataclass(event):
        sent = {f.name: getattr(event, f.name) for f in fields(event)}
    else:
        sent = {"repr": repr(event)[:10_000]}
    text = json.dumps({"problem": problem, "event": type(event).__name__, "sent": sent}, indent=1, default=repr,
                      ensure_ascii=True) + "\n"
    data = text.encode("utf-8")
    folder = Path(out) / RAW_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return write_atomic(folder / f"finding-{hashlib.sha256(data).hexdigest()[:12]}.json", data)


def where(kept: Kept) -> str:
    """Where a finding is on disk, in words."""
    if kept.path is None:
        return "NOT WRITTEN (see the harness error above)"
    return f"written raw (as sent, not a loadable case) to {kept.path}" if kept.raw else f"written to {kept.path}"


def saved_cases(out: Path, folders: tuple[str, ...], say) -> list[tuple[str, dict]]:
    """The cases to replay before the search: the findings in ``out`` (not its pending/ or fixed/ copies) and every
    case under each of ``folders``, as (path, case data). A file that is not a valid case is named and skipped."""
    paths = sorted(out.glob("*.json")) if out.is_dir() else []
    for folder in folders:
        paths += sorted(p for p in Path(folder).rglob("*.json") if p.is_file())
    cases = []
    for path in dict.fromkeys(paths):
        try:
            cases.append((str(path), case_to_json(load_case(path))))
        except CaseFormatError as e:
            say(f"not replayed (not a valid case): {e}", always=True)
    return cases
