"""Small real architectures for checking quantizers end to end (the ``model`` subjects of the suite's checks).

Each :class:`ModelSpec` names a tiny ``torch.nn.Module`` built from the blocks quantizers are written for (conv-bn-relu
stacks, a residual block, a depthwise-separable block, an attention block, an MLP, an embedding followed by a
linear layer), with deterministic weights and inputs. :func:`export_model` gives what ``prepare_pt2e`` receives:
``torch.export.export(m, inputs).module()`` without torch.export's ``_guards_fn`` call (it has no users and the
harness compares graph structure before and after annotation). Exports are cached per process; every call returns
a fresh deep copy, safe to annotate and prepare. :func:`model_subjects` lists the models a run checks
(``--pt2e-models``, else all of :data:`MODELS`).

The models are in eval mode (batch norms use running statistics, as in post-training quantization); for QAT
(``train=True``) they are exported in train mode, as ``prepare_qat_pt2e`` expects (batch norms use batch
statistics, so its conv-bn fusion applies). Weights and batch-norm statistics are seeded so runs are reproducible.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from harness.suite.options import SuiteOptions
from harness.suite.subjects.subject import Subject

__all__ = [
    "ModelSpec",
    "MODELS",
    "model_names",
    "selected_models",
    "model_subjects",
    "get_model",
    "float_model",
    "export_model",
    "model_inputs",
    "strip_guards",
]


@dataclass(frozen=True)
class ModelSpec:
    """A small architecture: how to build it, its inputs, and the aten ops that make it what it is.

    ``key_ops`` are aten op packet names (``"conv2d"``, ``"linear"``, ``"embedding"``...): a quantizer that says it
    supports one of them (``get_supported_operators``) claims to support the model.
    """

    name: str
    description: str
    make: Callable[[], nn.Module]
    inputs: Callable[[torch.Generator], tuple[torch.Tensor, ...]]
    key_ops: frozenset[str]


def _seeded_init(module: nn.Module, seed: int) -> nn.Module:
    """Deterministic weights, and non-trivial batch-norm statistics (so fusing a batch norm changes numerics)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in**0.5)
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
                m.weight.copy_(1.0 + 0.1 * torch.randn(m.weight.shape, generator=gen))
    return module.eval()


class ConvBnReluStack(nn.Module):
    """Two conv-bn-relu stages, global pooling and a linear classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, stride=2)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


class ResidualBlock(nn.Module):
    """A ResNet basic block: conv-bn-relu, conv-bn, identity shortcut added, relu."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + x)


class DepthwiseSeparable(nn.Module):
    """A MobileNet block: depthwise 3x3 conv-bn-relu6, pointwise 1x1 conv-bn-relu."""

    def __init__(self, cin: int = 8, cout: int = 16) -> None:
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.hardtanh(self.bn1(self.dw(x)), 0.0, 6.0)
        return F.relu(self.bn2(self.pw(x)))


class AttentionBlock(nn.Module):
    """A pre-norm single-head self-attention block: layer norm, q/k/v projections, softmax(qk^T)v, projection,
    residual."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.scale = dim**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * self.scale, dim=-1)
        return x + self.proj(torch.matmul(attn, v))


class MLP(nn.Module):
    """Three linear layers with relu and hardtanh activations."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(x))
        x = F.hardtanh(self.fc2(x))
        return self.fc3(x)


class EmbeddingLinear(nn.Module):
    """An embedding table, mean over the sequence, a linear head."""

    def __init__(self, vocab: int = 50, dim: int = 16) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.fc = nn.Linear(dim, 8)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.fc(self.emb(idx).mean(dim=1))


def _images(shape: tuple[int, ...]) -> Callable[[torch.Generator], tuple[torch.Tensor, ...]]:
    return lambda gen: (torch.randn(shape, generator=gen),)


MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec("conv_bn_relu", "two conv-bn-relu stages, pooling, linear",
                  lambda: _seeded_init(ConvBnReluStack(), 1),
                  _images((2, 3, 16, 16)), frozenset({"conv2d", "linear"})),
        ModelSpec("residual", "ResNet basic block with identity shortcut", lambda: _seeded_init(ResidualBlock(), 2),
                  _images((2, 8, 8, 8)), frozenset({"conv2d", "add"})),
        ModelSpec("depthwise_separable", "depthwise conv-bn-relu6, pointwise conv-bn-relu",
                  lambda: _seeded_init(DepthwiseSeparable(), 3), _images((2, 8, 8, 8)), frozenset({"conv2d"})),
        ModelSpec("attention", "pre-norm single-head self-attention with residual",
                  lambda: _seeded_init(AttentionBlock(), 4), _images((2, 6, 16)), frozenset({"linear", "matmul"})),
        ModelSpec("mlp", "three linear layers with relu and hardtanh", lambda: _seeded_init(MLP(), 5),
                  _images((4, 16)), frozenset({"linear"})),
        ModelSpec("embedding_linear", "embedding, mean over the sequence, linear",
                  lambda: _seeded_init(EmbeddingLinear(), 6),
                  lambda gen: (torch.randint(0, 50, (2, 6), generator=gen),), frozenset({"embedding", "linear"})),
    )
}


def model_names() -> list[str]:
    """The names of :data:`MODELS`, in definition order."""
    return list(MODELS)


def selected_models(options: SuiteOptions) -> tuple[str, ...]:
    """The models a run checks: ``options.models``, or all of :data:`MODELS` when it is None."""
    return tuple(MODELS) if options.models is None else options.models


def model_subjects(options: SuiteOptions) -> list[Subject]:
    """The ``model`` subjects of a run, in the order of :func:`selected_models`."""
    return [Subject("model", name) for name in selected_models(options)]


def get_model(name: str) -> ModelSpec:
    """The :class:`ModelSpec` called ``name``; ``KeyError`` naming the known models otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


def model_inputs(name: str, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Deterministic inputs for model ``name`` (the same shapes as the export's example inputs)."""
    return get_model(name).inputs(torch.Generator().manual_seed(seed))


_FLOAT: dict[tuple[str, bool], nn.Module] = {}
_EXPORTED: dict[tuple[str, bool, bool], torch.fx.GraphModule] = {}


def float_model(name: str, train: bool = False) -> nn.Module:
    """The eager float model ``name``, in eval mode or (``train``) in train mode (cached; do not modify it)."""
    if (name, train) not in _FLOAT:
        _FLOAT[(name, train)] = get_model(name).make().train(train)
    return _FLOAT[(name, train)]


def strip_guards(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Remove torch.export's unused ``_guards_fn`` call (and its submodule) from ``gm``, in place."""
    changed = False
    for node in list(gm.graph.nodes):
        if node.op == "call_module" and node.target == "_guards_fn" and not node.users:
            gm.graph.erase_node(node)
            changed = True
    if changed:
        if hasattr(gm, "_guards_fn"):
            delattr(gm, "_guards_fn")
        gm.recompile()
    return gm


def _export(name: str, strict: bool, train: bool) -> torch.fx.GraphModule:
    model = float_model(name, train)
    ep = torch.export.export(model, model_inputs(name, seed=0), strict=strict)
    try:
        gm = ep.module(check_guards=False)
    except TypeError:  # torch without check_guards
        gm = ep.module()
    return strip_guards(gm)


def export_model(name: str, strict: bool = False, train: bool = False) -> torch.fx.GraphModule:
    """``torch.export.export(model, inputs, strict=strict).module()`` of model ``name`` without the guard call: a
    fresh copy. ``strict=True`` traces with TorchDynamo, which also fills ``node.meta["source_fn_stack"]`` (some
    quantizers, e.g. ExecuTorch's Cadence ones, match on it and annotate nothing without it). ``train``: the model
    in train mode (for QAT)."""
    key = (name, strict, train)
    if key not in _EXPORTED:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.export's own deprecation chatter
            _EXPORTED[key] = _export(name, strict, train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deep-copying the pytree spec of an exported module
        return copy.deepcopy(_EXPORTED[key])
