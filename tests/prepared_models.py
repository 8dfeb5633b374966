"""Small hand-annotated models, prepared by torchao, for the canonical/diff/invariant tests.

Each case exports a tiny ``nn.Module`` once (cached), and hands out fresh deep copies annotated by hand
(annotations are attached to the copy's own nodes, so the copy can be prepared independently).
``prepared_case(name)`` returns the annotated original (left unmutated) and torchao's prepared model.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable

import torch
from torch.fx import GraphModule

from torchao.quantization.pt2e.fake_quantize import FakeQuantize
from torchao.quantization.pt2e.observer import MinMaxObserver
from torchao.quantization.pt2e.prepare import prepare
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationAnnotation,
    QuantizationSpec,
    SharedQuantizationSpec,
)
from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config

from harness.check.observer_map import is_observer_module
from harness.fx.nodes import ANNOTATION_KEY as A


def int8(is_qat: bool = False, qmin: int = -128, qmax: int = 127) -> QuantizationSpec:
    ctor = FakeQuantize.with_args(observer=MinMaxObserver) if is_qat else MinMaxObserver
    return QuantizationSpec(
        dtype=torch.int8, observer_or_fake_quant_ctr=ctor, quant_min=qmin, quant_max=qmax,
        qscheme=torch.per_tensor_affine,
    )


def uint8(is_qat: bool = False) -> QuantizationSpec:
    ctor = FakeQuantize.with_args(observer=MinMaxObserver) if is_qat else MinMaxObserver
    return QuantizationSpec(
        dtype=torch.uint8, observer_or_fake_quant_ctr=ctor, quant_min=0, quant_max=255,
        qscheme=torch.per_tensor_affine,
    )


def weight_spec(is_qat: bool = False) -> QuantizationSpec:
    ctor = FakeQuantize.with_args(observer=MinMaxObserver) if is_qat else MinMaxObserver
    return QuantizationSpec(
        dtype=torch.int8, observer_or_fake_quant_ctr=ctor, quant_min=-127, quant_max=127,
        qscheme=torch.per_tensor_symmetric,
    )


def derive_bias_qparams(obs_or_fqs):
    """Bias scale = input scale * weight scale, zero point 0."""
    act, w = obs_or_fqs
    s_a, _ = act.calculate_qparams()
    s_w, _ = w.calculate_qparams()
    scale = (s_a * s_w).float()
    return scale, torch.zeros_like(scale, dtype=torch.int32)


# ---- modules ---------------------------------------------------------------------------------


class ReluAdd(torch.nn.Module):
    def forward(self, x, y):
        a = torch.relu(x)
        return torch.add(a, y), a * 2


class Conv(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3)

    def forward(self, x):
        return torch.relu(self.conv(x))


class Sig(torch.nn.Module):
    def forward(self, x):
        return torch.sigmoid(x * 3.0)


class Cat(torch.nn.Module):
    def forward(self, x, y):
        return torch.cat([torch.relu(x), torch.tanh(y)], 1)


class Buf(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("buf", torch.zeros(2, 3))

    def forward(self, x):
        self.buf.copy_(x)
        return torch.relu(x) + 1.0


class XnnNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.lin = torch.nn.Linear(6, 5)

    def forward(self, x):
        a = torch.relu(self.conv(x))
        b = torch.cat([a, a * 1.0], 1)
        return self.lin(b + 1.0), torch.nn.functional.adaptive_avg_pool2d(a, 2)


# ---- annotation functions (by node name) -----------------------------------------------------


def _nodes(gm: GraphModule) -> dict:
    return {n.name: n for n in gm.graph.nodes}


def annotate_relu_add(gm: GraphModule, is_qat: bool) -> None:
    n = _nodes(gm)
    relu, add = n["relu"], n["add"]
    relu.meta[A] = QuantizationAnnotation(input_qspec_map={n["x"]: int8(is_qat)}, output_qspec=int8(is_qat))
    add.meta[A] = QuantizationAnnotation(
        input_qspec_map={relu: int8(is_qat), n["y"]: SharedQuantizationSpec((relu, add))},
        output_qspec=int8(is_qat),
    )


def annotate_chain(gm: GraphModule, is_qat: bool) -> None:
    """relu's output int8, the edge relu -> add uint8: two observers in a row."""
    n = _nodes(gm)
    relu, add = n["relu"], n["add"]
    relu.meta[A] = QuantizationAnnotation(output_qspec=int8(is_qat))
    add.meta[A] = QuantizationAnnotation(input_qspec_map={relu: uint8(is_qat)})


def annotate_conv_derived(gm: GraphModule, is_qat: bool) -> None:
    n = _nodes(gm)
    conv, x, w, b = n["conv2d"], n["x"], n["conv_weight"], n["conv_bias"]
    bias = DerivedQuantizationSpec(
        derived_from=[(x, conv), (w, conv)], derive_qparams_fn=derive_bias_qparams, dtype=torch.int32,
        quant_min=-(2**31), quant_max=2**31 - 1, qscheme=torch.per_tensor_symmetric,
    )
    conv.meta[A] = QuantizationAnnotation(
        input_qspec_map={x: int8(is_qat), w: weight_spec(is_qat), b: bias}, output_qspec=int8(is_qat)
    )
    n["relu"].meta[A] = QuantizationAnnotation(
        input_qspec_map={conv: SharedQuantizationSpec(conv)}, output_qspec=SharedQuantizationSpec(conv)
    )


FIXED = dict(dtype=torch.uint8, scale=1.0 / 256.0, zero_point=0, quant_min=0, quant_max=255, qscheme=torch.per_tensor_affine)


def annotate_fixed(gm: GraphModule, is_qat: bool) -> None:
    n = _nodes(gm)
    n["sigmoid"].meta[A] = QuantizationAnnotation(
        input_qspec_map={n["mul"]: int8(is_qat)}, output_qspec=FixedQParamsQuantizationSpec(**FIXED)
    )


def annotate_cat(gm: GraphModule, is_qat: bool) -> None:
    n = _nodes(gm)
    cat, relu, tanh = n["cat"], n["relu"], n["tanh"]
    relu.meta[A] = QuantizationAnnotation(output_qspec=int8(is_qat))
    cat.meta[A] = QuantizationAnnotation(
        input_qspec_map={relu: int8(is_qat), tanh: SharedQuantizationSpec((relu, cat))},
        output_qspec=SharedQuantizationSpec((relu, cat)),
    )


def annotate_not_tensor(gm: GraphModule, is_qat: bool) -> None:
    """The output of relu is annotated but its meta['val'] is not a FakeTensor: upstream skips it."""
    annotate_chain(gm, is_qat)
    del _nodes(gm)["relu"].meta["val"]


def annotate_buffer(gm: GraphModule, is_qat: bool) -> None:
    n = _nodes(gm)
    copy_ = n["copy_"]
    copy_.meta[A] = QuantizationAnnotation(input_qspec_map={n["buf"]: int8(is_qat), n["x"]: int8(is_qat)})
    n["relu"].meta[A] = QuantizationAnnotation(input_qspec_map={n["x"]: int8(is_qat)}, output_qspec=int8(is_qat))


class NoBatchNormXNNPACK(XNNPACKQuantizer):
    """XNNPACKQuantizer without its conv-bn QAT annotators: they export their patterns (~5 s) and match nothing in
    a model without batch norm, so skipping them keeps the tests fast."""

    STATIC_QAT_ONLY_OPS: list = []


def annotate_xnnpack(gm: GraphModule, is_qat: bool) -> GraphModule:
    q = NoBatchNormXNNPACK().set_global(get_symmetric_quantization_config(is_per_channel=True, is_qat=is_qat))
    gm = q.transform_for_annotation(gm)
    q.annotate(gm)
    return gm


@dataclass(frozen=True)
class CaseDef:
    module: Callable[[], torch.nn.Module]
    inputs: Callable[[], tuple]
    annotate: Callable[[GraphModule, bool], object]


def _in(*shapes):
    def make():
        g = torch.Generator().manual_seed(0)
        return tuple(torch.randn(*s, generator=g) for s in shapes)

    return make


CASES: dict[str, CaseDef] = {
    "relu_add": CaseDef(ReluAdd, _in((2, 3), (2, 3)), annotate_relu_add),
    "chain": CaseDef(ReluAdd, _in((2, 3), (2, 3)), annotate_chain),
    "conv_derived": CaseDef(Conv, _in((1, 2, 5, 5)), annotate_conv_derived),
    "fixed": CaseDef(Sig, _in((2, 3)), annotate_fixed),
    "cat": CaseDef(Cat, _in((2, 3), (2, 3)), annotate_cat),
    "not_tensor": CaseDef(ReluAdd, _in((2, 3), (2, 3)), annotate_not_tensor),
    "buffer": CaseDef(Buf, _in((2, 3)), annotate_buffer),
    "xnnpack": CaseDef(XnnNet, _in((1, 3, 8, 8)), annotate_xnnpack),
}


def copy_annotated(gm: GraphModule) -> GraphModule:
    """A deep copy of an annotated model whose annotations refer to the copy's own nodes.

    ``copy.deepcopy`` alone keeps annotations that point at the nodes of the source graph (node meta is
    copied shallowly), and torchao's prepare then silently observes nothing on the copy.
    """
    c = copy.deepcopy(gm)
    by_name = {n.name: n for n in c.graph.nodes}

    def node(x):
        return by_name[x.name]

    def target(t):
        return tuple(node(x) for x in t) if isinstance(t, tuple) else node(t)

    def spec(s):
        if isinstance(s, SharedQuantizationSpec):
            return SharedQuantizationSpec(target(s.edge_or_node))
        if isinstance(s, DerivedQuantizationSpec):
            return dataclasses.replace(s, derived_from=[target(t) for t in s.derived_from])
        return s

    for n in c.graph.nodes:
        qa = n.meta.get(A)
        if qa is not None:
            n.meta[A] = QuantizationAnnotation(
                input_qspec_map={node(k): spec(v) for k, v in qa.input_qspec_map.items()},
                output_qspec=spec(qa.output_qspec),
                allow_implicit_sharing=qa.allow_implicit_sharing,
                _annotated=qa._annotated,
            )
    return c


@functools.lru_cache(maxsize=None)
def _annotated_once(name: str, is_qat: bool) -> GraphModule:
    case = CASES[name]
    torch.manual_seed(0)
    gm = torch.export.export(case.module(), case.inputs()).module()
    out = case.annotate(gm, is_qat)
    return out if isinstance(out, GraphModule) else gm


def annotated(name: str, is_qat: bool = False) -> GraphModule:
    """A fresh annotated copy of case ``name`` (exported and annotated once, then copied)."""
    return copy_annotated(_annotated_once(name, is_qat))


@dataclass
class Prepared:
    original: GraphModule
    prepared: GraphModule
    is_qat: bool
    example_inputs: tuple


def prepared_case(name: str, is_qat: bool = False) -> Prepared:
    """The annotated original (unmutated) and torchao's prepare of an identical annotated copy."""
    original = annotated(name, is_qat)
    prepared = prepare(annotated(name, is_qat), {}, is_qat)
    return Prepared(original, prepared, is_qat, CASES[name].inputs())


def obs_node(gm: GraphModule, observing: str):
    """The first observer node whose first argument is the node named ``observing``."""
    for n in gm.graph.nodes:
        if (
            n.op == "call_module"
            and is_observer_module(gm.get_submodule(n.target))
            and n.args[0].name == observing
        ):
            return n
    raise LookupError(f"no observer reads {observing}")
