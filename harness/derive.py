"""Kept so that ``the derive-function names stored in corpus files (harness.derive.NAME)``, a public string, keeps naming the same objects: they live in
:mod:`harness.fx.derive`."""

from harness.common.forward import forward

__getattr__, __dir__ = forward("harness.fx.derive")
