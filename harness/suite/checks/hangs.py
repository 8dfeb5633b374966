"""Remembering that a quantizer hung, so that its later calls fail at once instead of each waiting out its own
timeout: a quantizer that never returns on some graphs would otherwise cost the timeout again for every model and
random example. The memory is per process (by the quantizer's label) and, given a marker directory, shared with
the other processes of the run (xdist workers) through one marker file per quantizer, written atomically.

Markers must not outlive their run: :func:`clear_hang_markers` removes them (the plugin calls it at session
start, in the controller only), :func:`clear_caches` forgets this process's memory (at each session's configure).
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Optional

from harness.common.atomic import write_atomic

__all__ = ["MARKER_SUFFIX", "marker_path", "record_hang", "earlier_hang", "hung_earlier", "clear_hang_markers",
           "clear_caches"]

MARKER_SUFFIX = ".hung"  # not .json: the corpus directory's *.json files are saved cases

_HUNG: dict[str, str] = {}  # quantizer label -> what hung ("annotate() on model 'mlp' did not return within 60 s")


def marker_path(directory: str, label: str) -> Path:
    """The marker file of quantizer ``label`` in ``directory`` (the label made a file name, plus its CRC)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", label)[:80]
    return Path(directory) / f"{slug}-{zlib.crc32(label.encode()):08x}{MARKER_SUFFIX}"


def record_hang(label: str, description: str, directory: Optional[str] = None) -> None:
    """Remember that quantizer ``label`` hung (``description`` says where); with ``directory``, tell the other
    processes too (a marker written atomically; a directory that cannot be written leaves the memory only)."""
    _HUNG.setdefault(label, description)
    if directory is None:
        return
    path = marker_path(directory, label)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, description.encode("utf-8"), durable=False)
    except OSError:
        pass


def earlier_hang(label: str, directory: Optional[str] = None) -> Optional[str]:
    """What hung earlier in quantizer ``label`` (in this process, or a marker in ``directory``), or None."""
    if label in _HUNG:
        return _HUNG[label]
    if directory is None:
        return None
    try:
        description = marker_path(directory, label).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    _HUNG[label] = description
    return description


def hung_earlier(description: str) -> str:
    """The message of a check that did not run the quantizer because it hung earlier."""
    return f"the quantizer hung earlier ({description})"


def clear_hang_markers(directory: str) -> None:
    """Remove the markers in ``directory`` (and the directory when that empties it)."""
    root = Path(directory)
    if not root.is_dir():
        return
    for p in root.glob(f"*{MARKER_SUFFIX}"):
        p.unlink(missing_ok=True)
    try:
        root.rmdir()
    except OSError:
        pass  # not empty: something else lives there


def clear_caches() -> None:
    """Forget the hangs this process remembers (a new session)."""
    _HUNG.clear()
