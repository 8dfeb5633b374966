"""Kept so that ``--candidate harness.mutants:NAME``, a public string, keeps naming the same objects: they live in
:mod:`harness.fuzz.mutants`."""

import importlib as _importlib

_home = _importlib.import_module("harness.fuzz.mutants")


def __getattr__(name: str):
    return getattr(_home, name)


def __dir__() -> list[str]:
    return dir(_home)
