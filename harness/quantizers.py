"""Kept so that ``--pt2e-quantizer=harness.quantizers:NAME``, a public string, keeps naming the same objects: they live in
:mod:`harness.suite.quantizers`."""

import importlib as _importlib

_home = _importlib.import_module("harness.suite.quantizers")


def __getattr__(name: str):
    return getattr(_home, name)


def __dir__() -> list[str]:
    return dir(_home)
