"""Every quantizer mutant (:mod:`harness.mutants.quantizers`) is caught by the quantizer campaign's own check on a
small hand-written module with its gated shape, and annotates exactly as the real quantizer on a module without it.

The campaign's figures (time to the first finding of each mutant in a 60 s campaign) come from
``benchmarks/bench_quantizer_mutants.py``; these tests show, quickly, that each seeded bug is one the checks can
see (a mutant no check notices tests nothing) and that each gate is a gate (a mutant that breaks every graph
measures nothing about reach). The mutants built on ExecuTorch's quantizers are ``slow`` (importing ExecuTorch and
its passes takes seconds) and skip without ExecuTorch; so is the QAT one (torchao's QAT conv-bn fusion takes
seconds).
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from typing import Any

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    FixedQParamsQuantizationSpec,
    QuantizationSpec,
    SharedQuantizationSpec,
)

from harness import mutants
from harness.case import Case
from harness.check.run import load_function
from harness.fuzz.reach import package_directory
from harness.fx.extract import extract_graph
from harness.mutants.quantizers import QUANTIZER_MUTANTS
from harness.strategies.op_table import BASIC_OPS
from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.checks.well_formed_annotations import check_well_formed
from harness.suite.checks.quantizer_case import check_with_quantizer
from harness.suite.source import (QuantizerLoadError, QuantizerSource, load_quantizer_factory, make_quantizer,
                                  qat_variant)
from harness.suite.subjects.models import strip_guards

ANNOTATION_KEY = "quantization_annotation"


class Fn(nn.Module):
    """``fn(self, x)`` on an input of ``shape``, with the given submodules and buffers."""

    def __init__(self, fn, shape=(1, 4, 8, 8), **parts: Any) -> None:
        super().__init__()
        self.fn, self.shape = fn, shape
        for k, v in parts.items():
            if isinstance(v, torch.Tensor):
                self.register_buffer(k, v)
            else:
                setattr(self, k, v)

    def forward(self, x):
        return self.fn(self, x)


def conv(c: int = 4, **kw: Any) -> nn.Conv2d:
    return nn.Conv2d(c, c, 3, padding=1, **kw)


def lin() -> nn.Linear:
    return nn.Linear(8, 8)


IDX = torch.tensor([[0, 1, 2]])
ROW, SEQ, VEC = (2, 8), (1, 2, 4, 8), (1, 4, 16)

# name -> (a module with the gated shape, a near miss without it, QAT?)
MODULES: dict[str, tuple[Fn, Fn, bool]] = {
    "xnnpack_cat_ring_sharing": (Fn(lambda s, x: torch.cat([s.c(x), s.c(x).relu(), x], 1), c=conv()),
                                 Fn(lambda s, x: torch.cat([s.c(x), x], 1), c=conv()), False),
    "xnnpack_hardswish_after_conv": (Fn(lambda s, x: F.hardswish(s.c(x)), c=conv()),
                                     Fn(lambda s, x: F.hardswish(s.c(x).relu()), c=conv()), False),
    "xnnpack_embedding_padding_idx": (Fn(lambda s, x: s.e(s.idx) + x, (1, 3, 4), e=nn.Embedding(10, 4, padding_idx=0),
                                         idx=IDX),
                                      Fn(lambda s, x: s.e(s.idx) + x, (1, 3, 4), e=nn.Embedding(10, 4), idx=IDX),
                                      False),
    "xnnpack_layer_norm_without_weight": (Fn(lambda s, x: s.l(F.layer_norm(x, (8,))), ROW, l=lin()),
                                          Fn(lambda s, x: s.l(s.ln(x)), ROW, ln=nn.LayerNorm(8), l=lin()), False),
    "xnnpack_gelu_tanh": (Fn(lambda s, x: F.gelu(s.c(x), approximate="tanh"), c=conv()),
                          Fn(lambda s, x: F.gelu(s.c(x)), c=conv()), False),
    "xnnpack_dilated_conv1d": (Fn(lambda s, x: s.c(x), VEC, c=nn.Conv1d(4, 4, 3, dilation=2)),
                               Fn(lambda s, x: s.c(x), VEC, c=nn.Conv1d(4, 4, 3)), False),
    "x86_add_scalar_read_twice": (Fn(lambda s, x: (lambda y: (s.c(y.relu()), y.sigmoid()))(x + 0.5), c=conv()),
                                  Fn(lambda s, x: s.c((x + 0.5).relu()), c=conv()), False),
    "x86_attention_dangling_share": (
        Fn(lambda s, x: s.l(torch.matmul(torch.matmul(x, x.transpose(-1, -2)).softmax(-1), x)), SEQ, l=lin()),
        Fn(lambda s, x: s.l(torch.matmul(torch.matmul(x, x.transpose(-1, -2)).relu(), x)), SEQ, l=lin()), False),
    "x86_conv_bn_without_bias": (Fn(lambda s, x: s.bn(s.c(x)), c=conv(bias=False), bn=nn.BatchNorm2d(4)),
                                 Fn(lambda s, x: s.c(x).relu(), c=conv(bias=False)), True),
    "x86_bilinear_align_corners": (
        Fn(lambda s, x: F.interpolate(s.c(x), scale_factor=2, mode="bilinear", align_corners=True), c=conv()),
        Fn(lambda s, x: F.interpolate(s.c(x), scale_factor=2, mode="bilinear", align_corners=False), c=conv()), False),
    "x86_grouped_conv_transpose": (Fn(lambda s, x: s.d(s.c(x)), c=nn.ConvTranspose2d(4, 4, 3, groups=2), d=conv()),
                                   Fn(lambda s, x: s.d(s.c(x)), c=nn.ConvTranspose2d(4, 4, 3), d=conv()), False),
    "x86_linear_relu_int8_range": (Fn(lambda s, x: s.l(x).relu(), ROW, l=lin()),
                                   Fn(lambda s, x: s.l(x).sigmoid(), ROW, l=lin()), False),
    "x86_max_pool_ceil_mode": (Fn(lambda s, x: F.max_pool2d(s.c(x), 3, 2, ceil_mode=True), (1, 4, 9, 9), c=conv()),
                               Fn(lambda s, x: F.max_pool2d(s.c(x), 3, 2), (1, 4, 9, 9), c=conv()), False),
    "et_xnnpack_reflect_pad": (Fn(lambda s, x: s.c(F.pad(x, (1, 1, 1, 1), mode="reflect")), c=conv()),
                               Fn(lambda s, x: s.c(F.pad(x, (1, 1, 1, 1))), c=conv()), False),
    "et_xnnpack_leaky_relu_slope": (Fn(lambda s, x: F.leaky_relu(s.c(x), 0.2), c=conv()),
                                    Fn(lambda s, x: F.leaky_relu(s.c(x)), c=conv()), False),
    "et_xnnpack_swiglu_derived": (Fn(lambda s, x: F.silu(s.a(x)) * s.b(x), ROW, a=lin(), b=lin()),
                                  Fn(lambda s, x: F.silu(s.a(x)) + s.b(x), ROW, a=lin(), b=lin()), False),
    "et_xnnpack_rsub_scalar": (Fn(lambda s, x: 1.0 - s.c(x), c=conv()), Fn(lambda s, x: s.c(x) - 1.0, c=conv()), False),
    "arm_linear_tanh_fixed_scale": (Fn(lambda s, x: torch.tanh(s.l(x)), ROW, l=lin()),
                                    Fn(lambda s, x: torch.sigmoid(s.l(x)), ROW, l=lin()), False),
    "arm_hardsigmoid_mul_axis": (Fn(lambda s, x: x * F.hardsigmoid(s.c(x)), c=conv()),
                                 Fn(lambda s, x: x + F.hardsigmoid(s.c(x)), c=conv()), False),
    "arm_depthwise_conv_clone": (Fn(lambda s, x: s.c(x), c=conv(groups=4)), Fn(lambda s, x: s.c(x), c=conv()), False),
    "cadence_addmm_bias_derived": (Fn(lambda s, x: torch.addmm(s.b, x, s.w), ROW, b=torch.randn(8),
                                      w=torch.randn(8, 8)),
                                   Fn(lambda s, x: F.linear(x, s.w, s.b), ROW, b=torch.randn(8), w=torch.randn(8, 8)),
                                   False),
    "cadence_bmm_same_operand": (Fn(lambda s, x: torch.bmm(x, x), (2, 4, 4)),
                                 Fn(lambda s, x: torch.bmm(x, s.y), (2, 4, 4), y=torch.randn(2, 4, 4)), False),
}

# mutants whose gate a case graph written back as a module program loses (a strict xfail each, with the reason):
# none since max_pool2d's program spelling (harness/strategies/op_entries.py) writes ceil_mode
ROUND_TRIP_LOSES_GATE: dict[str, str] = {}


def _param(name: str, round_trip: bool = False) -> Any:
    slow = QUANTIZER_MUTANTS[name].base.startswith("executorch_") or MODULES[name][2]  # QAT: conv-bn fusion, seconds
    marks = [pytest.mark.slow] if slow else []
    if round_trip and name in ROUND_TRIP_LOSES_GATE:
        marks.append(pytest.mark.xfail(strict=True, reason=ROUND_TRIP_LOSES_GATE[name]))
    return pytest.param(name, marks=marks)


ALL = [_param(n) for n in QUANTIZER_MUTANTS]
ROUND_TRIP = [_param(n, round_trip=True) for n in QUANTIZER_MUTANTS]


def _source(spec: str, qat: bool) -> QuantizerSource:
    try:
        source = load_quantizer_factory(spec)
    except QuantizerLoadError as e:
        if e.unavailable:
            pytest.skip(str(e))
        raise
    return qat_variant(source) if qat else source


def _sources(name: str, qat: bool) -> tuple[QuantizerSource, QuantizerSource]:
    """The mutant's source (by its public string) and its base quantizer's."""
    base = QUANTIZER_MUTANTS[name].base
    return _source(f"harness.mutants:{name}", qat), _source(f"harness.quantizers:{base}", qat)


def _exported(module: Fn, source: QuantizerSource, qat: bool) -> torch.fx.GraphModule:
    module.train(qat)
    ep = torch.export.export(module, (torch.randn(*module.shape),), strict=source.export_strict)
    return strip_guards(ep.module())


def _spec(spec: Any) -> Any:
    """A spec as comparable data (node references by name, constructors without addresses)."""
    if spec is None:
        return None
    if isinstance(spec, SharedQuantizationSpec):
        e = spec.edge_or_node
        return ("shared", tuple(n.name for n in e) if isinstance(e, tuple) else e.name)
    fields = (str(spec.dtype), spec.quant_min, spec.quant_max, str(spec.qscheme), getattr(spec, "ch_axis", None),
              spec.is_dynamic)
    if isinstance(spec, DerivedQuantizationSpec):
        return ("derived", tuple(tuple(x.name for x in s) if isinstance(s, tuple) else s.name
                                 for s in spec.derived_from), fields)
    if isinstance(spec, FixedQParamsQuantizationSpec):
        return ("fixed", spec.scale, spec.zero_point, fields)
    assert isinstance(spec, QuantizationSpec), spec
    return ("spec", re.sub(r" at 0x[0-9a-f]+", "", repr(spec.observer_or_fake_quant_ctr)), fields)


def _annotations(gm: torch.fx.GraphModule) -> dict:
    out = {}
    for n in gm.graph.nodes:
        qa = n.meta.get(ANNOTATION_KEY)
        if qa is not None:
            out[n.name] = (tuple((a.name, _spec(s)) for a, s in qa.input_qspec_map.items()), _spec(qa.output_qspec),
                           qa.allow_implicit_sharing)
    return out


CANDIDATE = "torchao.quantization.pt2e.prepare:prepare"


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_the_campaigns_check_catches_the_mutant_on_its_shape_and_not_the_base(name: str) -> None:
    """check_with_quantizer, the campaign's own check of a case, fails the mutant at the stage its bug is for,
    on the case graph of a module with the gated shape; the unmodified quantizer passes the same case."""
    with_shape, _, qat = MODULES[name]
    mutant, base = _sources(name, qat)
    seeded = QUANTIZER_MUTANTS[name]
    case = Case(extract_graph(_exported(with_shape, mutant, qat)), (), is_qat=qat)
    verdict = check_with_quantizer(case, mutant, load_function(CANDIDATE))
    assert verdict.failed and verdict.signature.startswith(seeded.detect + ": "), (verdict.signature, verdict.text)
    assert not check_with_quantizer(case, base, load_function(CANDIDATE)).failed
    saved = Case(verdict.case.graph, (), is_qat=verdict.case.is_qat)  # what a replay of the saved finding checks
    again = check_with_quantizer(saved, mutant, load_function(CANDIDATE))
    assert again.failed and again.signature == verdict.signature, (again.signature, again.text)


@pytest.mark.parametrize("name", ALL)
def test_the_suites_checks_catch_the_mutant_on_the_exported_module(name: str) -> None:
    """The same checks, piece by piece (run_quantizer, then check_well_formed), on the module as exported: the
    stage of the seeded bug reports an error; the unmodified quantizer has none on it."""
    with_shape, _, qat = MODULES[name]
    mutant, base = _sources(name, qat)
    seeded = QUANTIZER_MUTANTS[name]

    def errors(source: QuantizerSource) -> list:
        ann = run_quantizer(_exported(with_shape, source, qat), source, 0)
        found = [p for p in ann.problems if p.level == "error"]
        return found or ([p for p in check_well_formed(ann.gm) if p.level == "error"] if not ann.failed else [])

    assert {p.check for p in errors(mutant)} == {seeded.detect}
    assert errors(base) == []


@pytest.mark.parametrize("name", ALL)
def test_the_gate_is_a_gate(name: str) -> None:
    """Without the gated shape (a near miss: the same module with one thing changed) the mutant annotates exactly
    as the unmodified quantizer, and its gate finds nothing there; with the shape, the gate finds it."""
    with_shape, without, qat = MODULES[name]
    mutant, base = _sources(name, qat)
    seeded = QUANTIZER_MUTANTS[name]
    by_mutant = run_quantizer(_exported(without, mutant, qat), mutant, 0)
    by_base = run_quantizer(_exported(without, base, qat), base, 0)
    assert not by_mutant.failed and not by_base.failed
    assert not seeded.find(by_mutant.gm)
    assert _annotations(by_mutant.gm) == _annotations(by_base.gm)
    assert _annotations(by_base.gm), "the near miss should be annotated, or the comparison shows nothing"
    q = make_quantizer(base)
    transformed = getattr(q, "transform_for_annotation", lambda m: m)(_exported(with_shape, base, qat))
    assert seeded.find(transformed)


def test_the_mutants_are_at_least_twenty_spread_over_real_quantizers_half_outside_the_basic_ops() -> None:
    seeded = list(QUANTIZER_MUTANTS.values())
    assert len(seeded) >= 20 and set(MODULES) == set(QUANTIZER_MUTANTS)
    assert sum(s.op not in BASIC_OPS for s in seeded) * 2 >= len(seeded)
    bases = {s.base for s in seeded}
    assert {"xnnpack", "x86_inductor"} <= bases and len(bases) >= 4
    assert {s.detect for s in seeded} == {"annotate", "well_formed"}


@pytest.mark.parametrize("name", sorted(QUANTIZER_MUTANTS))
def test_every_mutant_is_public_and_says_its_gate_and_bug(name: str) -> None:
    """``--quantizer harness.mutants:NAME`` and ``harness.mutants.quantizers:NAME`` name the same factory; its
    docstring says the base, the gate and the bug; it takes ``is_qat`` exactly when its base does."""
    from harness import quantizers

    factory = getattr(mutants, name)
    assert factory is getattr(mutants.quantizers, name) and name in mutants.__all__
    s = QUANTIZER_MUTANTS[name]
    assert s.gate in factory.__doc__ and s.bug in factory.__doc__ and s.base in factory.__doc__
    assert ("is_qat" in inspect.signature(factory).parameters) == (s.base in quantizers.QAT_FACTORIES)


@pytest.mark.parametrize("name", ["xnnpack_cat_ring_sharing", "x86_attention_dangling_share"])
def test_a_mutant_is_the_real_quantizer_and_its_reach_is_measured_in_the_real_package(name: str) -> None:
    mutant, base = _sources(name, False)
    q, real = make_quantizer(mutant), make_quantizer(base)

    def upstream_class(obj: Any) -> type:
        return next(c for c in type(obj).__mro__ if not c.__module__.startswith("harness"))

    assert upstream_class(q) is upstream_class(real) and type(q).__module__.startswith("harness.mutants")
    assert package_directory(q) == package_directory(real) == os.path.dirname(
        sys.modules[upstream_class(real).__module__].__file__)
