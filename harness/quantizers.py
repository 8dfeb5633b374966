"""Zero-argument factories of real, configured quantizers, for the quantizer suite and its tests.

Name one on the command line: ``pytest --pt2e-quantizer=harness.quantizers:xnnpack``. Each call returns a new
quantizer. The torchao ones are always available; the ExecuTorch ones (``executorch_*``) raise
:class:`QuantizerUnavailable` (an ``ImportError``) when ExecuTorch is not installed, and the suite reports the
quantizer as skipped.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = [
    "QuantizerUnavailable",
    "xnnpack",
    "xnnpack_per_tensor",
    "x86_inductor",
    "arm_inductor",
    "embedding",
    "composable",
    "executorch_xnnpack",
    "TORCHAO_FACTORIES",
    "EXECUTORCH_FACTORIES",
]


class QuantizerUnavailable(ImportError):
    """The package a quantizer factory needs is not installed (the suite skips that quantizer)."""


def xnnpack() -> Any:
    """torchao's test copy of the XNNPACK quantizer, symmetric int8, per-channel weights."""
    from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

    return XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))


def xnnpack_per_tensor() -> Any:
    """The XNNPACK quantizer with per-tensor weights."""
    from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

    return XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=False))


def x86_inductor() -> Any:
    """torchao's ``X86InductorQuantizer`` with its default (uint8 activations, per-channel int8 weights) config."""
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
        X86InductorQuantizer,
        get_default_x86_inductor_quantization_config,
    )

    return X86InductorQuantizer().set_global(get_default_x86_inductor_quantization_config())


def arm_inductor() -> Any:
    """torchao's ``ArmInductorQuantizer`` with its default (int8, per-tensor weights) config."""
    from torchao.quantization.pt2e.quantizer.arm_inductor_quantizer import (
        ArmInductorQuantizer,
        get_default_arm_inductor_quantization_config,
    )

    return ArmInductorQuantizer().set_global(get_default_arm_inductor_quantization_config())


def embedding() -> Any:
    """torchao's ``EmbeddingQuantizer``: uint8 per-channel weight-only quantization of embedding tables."""
    from torchao.quantization.pt2e.quantizer.embedding_quantizer import EmbeddingQuantizer

    return EmbeddingQuantizer()


def composable() -> Any:
    """A ``ComposableQuantizer`` of the embedding quantizer followed by XNNPACK (the documented combination)."""
    from torchao.quantization.pt2e.quantizer import ComposableQuantizer

    return ComposableQuantizer([embedding(), xnnpack()])


def _executorch(module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise QuantizerUnavailable(f"{what} needs ExecuTorch (pip install -e '.[executorch]'): {e}") from e


def executorch_xnnpack() -> Any:
    """ExecuTorch's XNNPACK quantizer (``executorch.backends.xnnpack``), symmetric int8, per-channel weights."""
    mod = _executorch("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", "executorch_xnnpack")
    return mod.XNNPACKQuantizer().set_global(mod.get_symmetric_quantization_config(is_per_channel=True))


TORCHAO_FACTORIES: dict[str, Callable[[], Any]] = {
    "xnnpack": xnnpack,
    "xnnpack_per_tensor": xnnpack_per_tensor,
    "x86_inductor": x86_inductor,
    "arm_inductor": arm_inductor,
    "embedding": embedding,
    "composable": composable,
}

EXECUTORCH_FACTORIES: dict[str, Callable[[], Any]] = {
    "executorch_xnnpack": executorch_xnnpack,
}
