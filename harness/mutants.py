"""Kept so that ``--candidate harness.mutants:NAME``, a public string, keeps naming the same objects: they live in
:mod:`harness.fuzz.mutants`."""

from harness.common.forward import forward

__getattr__, __dir__ = forward("harness.fuzz.mutants")
