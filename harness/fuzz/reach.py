"""Which lines of a quantizer's own package a case reaches: the measure behind ``--generation guided``.

The rule: a :class:`ReachTracer` watches one package directory (:func:`package_directory`: the directory of the
module of the quantizer's class, the first class of its MRO that the harness did not define, so a wrapper such as
``harness.quantizers.executorch_xnnpack``'s subclass is looked through). Inside :meth:`ReachTracer.measure` a
``sys.settrace`` function (Python 3.11 has no ``sys.monitoring``) follows only the frames whose code lives under
that directory, so the rest (torch.fx, the subgraph matcher) costs one call event a frame and no line events. A
line is named ``PACKAGE/relative/path.py:LINE`` (PACKAGE is the directory's name): the same on every machine, so
the lines reached by workers on different Ray nodes add up. The tracer put in place before (coverage.py's, a
debugger's) is restored afterwards; it misses the lines run while measuring.

:func:`statements` counts the executable lines of a module (the lines of its code objects; or of its functions only,
the lines a case can reach), for the share of a package's statements a search reaches.
"""

from __future__ import annotations

import inspect
import os
import sys
import types
from contextlib import contextmanager
from typing import Any, Iterator, Optional

__all__ = ["ReachTracer", "joining", "package_directory", "statements"]


def package_directory(obj: Any, skip: str = "harness") -> Optional[str]:
    """The directory of the module defining the class of ``obj`` (the first class of its MRO whose module is not
    under the package ``skip``); None when there is none (a builtin, a class defined in ``__main__``)."""
    for cls in type(obj).__mro__:
        name = cls.__module__ or ""
        if name == skip or name.startswith(skip + ".") or name in ("builtins", "__main__", "abc"):
            continue
        path = getattr(sys.modules.get(name), "__file__", None)
        if path:
            return os.path.dirname(os.path.abspath(path))
    return None


class ReachTracer:
    """The lines of ``directory``'s modules reached while :meth:`measure` runs (see the module docstring)."""

    def __init__(self, directory: str) -> None:
        self.directory = os.path.abspath(directory)
        self._prefix = self.directory + os.sep
        self._base = os.path.dirname(self.directory)
        self._watched: dict[types.CodeType, bool] = {}
        self._names: dict[str, str] = {}
        self._hits: set[tuple[str, int]] = set()

    def _local(self, frame: types.FrameType, event: str, arg: Any):
        if event == "line":
            self._hits.add((frame.f_code.co_filename, frame.f_lineno))
        return self._local

    def _global(self, frame: types.FrameType, event: str, arg: Any):
        code = frame.f_code
        watched = self._watched.get(code)
        if watched is None:
            watched = self._watched[code] = os.path.abspath(code.co_filename).startswith(self._prefix)
        if not watched:
            return None
        self._hits.add((code.co_filename, frame.f_lineno))  # the line of the call itself (a def's first line)
        return self._local

    def _name(self, filename: str) -> str:
        name = self._names.get(filename)
        if name is None:
            name = self._names[filename] = os.path.relpath(os.path.abspath(filename), self._base).replace(os.sep, "/")
        return name

    @contextmanager
    def measure(self) -> Iterator[set[str]]:
        """Trace the block; the set yielded holds, once the block ends, the lines it reached."""
        reached: set[str] = set()
        self._hits = set()
        before = sys.gettrace()
        sys.settrace(self._global)
        try:
            yield reached
        finally:
            sys.settrace(before)
            reached.update(f"{self._name(f)}:{line}" for f, line in self._hits)
            self._hits = set()


@contextmanager
def joining(tracer: "ReachTracer", reached: set[str]) -> Iterator[None]:
    """``tracer``'s measure of the block, its lines added to ``reached`` once the block ends (the lines of several
    blocks, a quantizer's calls, add up)."""
    lines: set[str] = set()
    try:
        with tracer.measure() as lines:
            yield
    finally:
        reached |= lines


def statements(path: str, functions_only: bool = False) -> set[int]:
    """The executable lines of the module at ``path`` (the lines its code objects run), empty when it does not
    compile; ``functions_only``: those of its functions (lambdas and comprehensions included), the lines a call can
    reach, without the module's and its classes' bodies, which run once, at import, before any case."""
    try:
        with open(path, encoding="utf-8") as f:
            code = compile(f.read(), path, "exec")
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return set()
    lines: set[int] = set()
    todo = [code]
    while todo:
        c = todo.pop()
        if not functions_only or c.co_flags & inspect.CO_NEWLOCALS:  # a function's frame; a body's shares locals
            lines.update(line for _, _, line in c.co_lines() if line)  # None: no line; 0: the module's RESUME
        todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return lines
