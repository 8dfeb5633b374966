"""Resolving ``"package.module:name"`` strings (candidate prepares, quantizer factories) to Python objects.

Kept free of heavy imports: the pytest plugin and the command line parse these before torch is needed.
"""

from __future__ import annotations

import importlib


def resolve_object(spec: str, what: str = "FUNCTION") -> object:
    """``"package.module:name"`` (dotted ``name`` allowed) -> the object; ``ValueError`` saying what is wrong."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{spec!r}: expected MODULE:{what}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"{spec!r}: cannot import {module_name!r}: {e}") from e
    obj: object = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"{spec!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj
