"""Kept so that ``--pt2e-quantizer=harness.quantizers:NAME``, a public string, keeps naming the same objects: they live in
:mod:`harness.suite.quantizers`."""

from harness.common.forward import forward

__getattr__, __dir__ = forward("harness.suite.quantizers")
