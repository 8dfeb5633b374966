"""Kept so that ``the derive-function names stored in corpus files (harness.derive.NAME)``, a public string, keeps naming the same objects: they live in
:mod:`harness.fx.derive`."""

import importlib as _importlib

_home = _importlib.import_module("harness.fx.derive")


def __getattr__(name: str):
    return getattr(_home, name)


def __dir__() -> list[str]:
    return dir(_home)
