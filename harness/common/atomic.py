"""Atomic file writes, the one way the harness writes a file others may read while it is written (findings,
reports, markers): a temporary file in the same directory, then ``os.replace``, so a reader sees the old file or
the new one, never a part of it, and concurrent writers of the same content all end with one complete file.

``durable`` also fsyncs the file and its directory, so a finding survives a crash of the machine right after it
was reported; the per-case crash-safety copy of the fuzz workers skips that (it only has to survive the worker).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Union

FILE_MODE = 0o644  # mkstemp makes 0600: these are ordinary files, for colleagues and web servers to read too


def write_atomic(path: Union[str, "os.PathLike[str]"], data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (see the module docstring); the parent directory must exist."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), FILE_MODE)
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
