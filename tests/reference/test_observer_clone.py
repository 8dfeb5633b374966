"""Observers cloned from a prototype (prepare_impl.observer_clone) are what their constructor builds, and their own."""

from __future__ import annotations

import pytest
import torch
from torchao.quantization.pt2e import fake_quantize as fq
from torchao.quantization.pt2e import observer as ob

from prepare_impl import observer_clone
from prepare_impl.observer_clone import CLONABLE, clone_module, construct

# (constructor, the spec's fields) as prepare builds them; every class of CLONABLE at least once
CONSTRUCTIONS = [
    (ob.MinMaxObserver, dict(dtype=torch.qint8, quant_min=-128, quant_max=127, qscheme=torch.per_tensor_symmetric,
                             is_dynamic=False)),
    (ob.MinMaxObserver.with_args(eps=2 ** -12), dict(dtype=torch.quint8, quant_min=0, quant_max=255,
                                                    qscheme=torch.per_tensor_affine, is_dynamic=False)),
    (ob.MovingAverageMinMaxObserver, dict(dtype=torch.qint8, quant_min=-128, quant_max=127,
                                          qscheme=torch.per_tensor_affine, is_dynamic=False)),
    (ob.PerChannelMinMaxObserver, dict(dtype=torch.qint8, quant_min=-127, quant_max=127,
                                       qscheme=torch.per_channel_symmetric, is_dynamic=False, ch_axis=1)),
    (ob.MovingAveragePerChannelMinMaxObserver, dict(dtype=torch.qint8, quant_min=-128, quant_max=127,
                                                    qscheme=torch.per_channel_affine, is_dynamic=False, ch_axis=0)),
    (ob.HistogramObserver, dict(dtype=torch.quint8, quant_min=0, quant_max=255, qscheme=torch.per_tensor_affine,
                                is_dynamic=False)),
    (ob.FixedQParamsObserver, dict(dtype=torch.quint8, scale=1.0 / 256, zero_point=0, quant_min=0, quant_max=255,
                                   qscheme=torch.per_tensor_affine, is_dynamic=False)),
    (ob.PlaceholderObserver, dict(dtype=torch.float16, is_dynamic=False)),
    (ob.NoopObserver, dict(dtype=torch.float16)),
    (ob.ReuseInputObserver, dict()),
    (fq.FakeQuantize, dict(dtype=torch.qint8, quant_min=-128, quant_max=127, qscheme=torch.per_tensor_affine,
                           is_dynamic=False)),
    (fq.FakeQuantize.with_args(observer=ob.MovingAveragePerChannelMinMaxObserver),
     dict(dtype=torch.qint8, quant_min=-127, quant_max=127, qscheme=torch.per_channel_symmetric, is_dynamic=False,
          ch_axis=0)),
    (fq.FusedMovingAvgObsFakeQuantize, dict(dtype=torch.quint8, quant_min=0, quant_max=255,
                                            qscheme=torch.per_tensor_affine, is_dynamic=False)),
    (fq.FixedQParamsFakeQuantize, dict(observer=ob.FixedQParamsObserver.with_args(
        dtype=torch.quint8, scale=1.0 / 256, zero_point=0, quant_min=0, quant_max=255))),
]


def _built(ctr):
    while isinstance(ctr, ob.PartialWrapper):
        ctr = ctr.p.func
    return ctr


def test_every_clonable_class_is_covered():
    assert {_built(c) for c, _ in CONSTRUCTIONS} >= CLONABLE


def _assert_same(a, b, where="module"):
    """``a`` and ``b`` are alike, and share no mutable state."""
    assert type(a) is type(b), where
    assert vars(a).keys() == vars(b).keys(), where
    for name, x in vars(a).items():
        y = vars(b)[name]
        at = f"{where}.{name}"
        if name in ("_buffers", "_parameters"):
            assert x.keys() == y.keys(), at
            for k in x:
                assert x[k] is not y[k], f"{at}[{k}] shared"
                assert x[k].dtype == y[k].dtype and x[k].shape == y[k].shape and x[k].stride() == y[k].stride(), at
                assert torch.equal(x[k], y[k]) or (x[k].isnan().all() and y[k].isnan().all()), at
                assert type(x[k]) is type(y[k]) and x[k].requires_grad == y[k].requires_grad, at
        elif name == "_modules":
            assert x.keys() == y.keys(), at
            for k in x:
                _assert_same(x[k], y[k], f"{at}.{k}")
        elif isinstance(x, (dict, list, set)):
            assert x == y and x is not y, at
        else:
            assert x == y or x is y, at


@pytest.mark.parametrize("ctr, fields", CONSTRUCTIONS, ids=lambda v: getattr(_built(v), "__name__", ""))
def test_a_clone_is_what_the_constructor_builds_and_its_own(ctr, fields):
    observer_clone._prototypes.clear()
    first = construct(ctr, **fields)  # the constructor's (kept as the prototype)
    fresh = ctr.with_args(**fields)()
    clone, other = construct(ctr, **fields), construct(ctr, **fields)
    assert clone is not first and clone is not other
    _assert_same(fresh, clone)
    _assert_same(clone, other)
    assert repr(clone) == repr(fresh)
    assert clone.state_dict().keys() == fresh.state_dict().keys()
    # observing data changes the clone only
    x = torch.randn(4, 3) * 5
    clone(x)
    if isinstance(clone, fq.FakeQuantizeBase) or "min_val" in clone._buffers:
        observed = clone.activation_post_process if isinstance(clone, fq.FakeQuantizeBase) else clone
        if "min_val" in observed._buffers and not isinstance(observed, ob.FixedQParamsObserver):
            assert not torch.equal(observed.min_val, (other.activation_post_process if observed is not clone
                                                      else other).min_val)
    _assert_same(other, ctr.with_args(**fields)())
    _assert_same(first, ctr.with_args(**fields)())


def test_equal_arguments_share_a_prototype_and_different_ones_do_not():
    observer_clone._prototypes.clear()
    int8 = dict(dtype=torch.qint8, quant_min=-128, quant_max=127, qscheme=torch.per_tensor_affine)
    construct(ob.MinMaxObserver, **int8)
    construct(ob.MinMaxObserver.with_args(), **int8)
    construct(ob.MinMaxObserver, **dict(int8, quant_min=-127))
    construct(ob.MinMaxObserver, **dict(int8, quant_max=127.0))  # 127.0 is not 127 to a constructor
    assert len(observer_clone._prototypes) == 4
    construct(ob.MinMaxObserver, **int8)
    assert len(observer_clone._prototypes) == 4


def test_other_classes_and_callable_arguments_are_constructed_each_time():
    observer_clone._prototypes.clear()
    built = []

    class Mine(ob.MinMaxObserver):  # a subclass: its constructor may do anything
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            built.append(self)

    construct(Mine, dtype=torch.qint8)
    construct(Mine, dtype=torch.qint8)
    assert len(built) == 2
    counter = iter(range(100))
    ctr = ob.MinMaxObserver.with_callable_args(eps=lambda: 2.0 ** -next(counter) * 1e-3)
    a, b = construct(ctr, dtype=torch.qint8), construct(ctr, dtype=torch.qint8)
    assert not torch.equal(a.eps, b.eps)
    assert not observer_clone._prototypes


def test_clone_module_copies_a_parameter_as_a_parameter():
    m = torch.nn.Linear(2, 2)
    c = clone_module(m)
    assert isinstance(c.weight, torch.nn.Parameter) and c.weight is not m.weight and torch.equal(c.weight, m.weight)
