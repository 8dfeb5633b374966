"""harness.fx.fakeval: values given by rule (pointwise ops of one contiguous float tensor) are the fake mode's."""

from __future__ import annotations

import pytest
import torch

from harness.fx import fakeval

OPS = sorted(fakeval._POINTWISE | fakeval._POINTWISE_IN_PLACE)
SHAPES = [(), (1,), (3,), (2, 1, 3), (1, 4, 1, 5), (2, 3, 4, 5)]


def _op(name: str):
    _, op, overload = name.split(".")
    return getattr(getattr(torch.ops.aten, op), overload)


def _extra(name: str) -> tuple:
    """The scalar arguments each op is drawn with (beyond the tensor)."""
    return {"hardtanh": (0.0, 6.0), "hardtanh_": (-1.0, 1.0), "clamp": (-0.5, 0.5), "clamp_": (0.0, None),
            "leaky_relu": (0.2,), "leaky_relu_": (0.1,), "elu": (1.0,), "elu_": (0.5,)}.get(name.split(".")[1], ())


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_a_value_given_by_rule_is_the_fake_mode_s(name, dtype, monkeypatch):
    fakeval.clear_cache()
    fn = _op(name)
    seen_rule = []
    rule = fakeval._by_rule

    def spy(*a):
        out = rule(*a)
        seen_rule.append(out is not None)
        return out

    monkeypatch.setattr(fakeval, "_by_rule", spy)
    monkeypatch.setattr(fakeval, "_on_meta", lambda *a: pytest.fail("the meta kernels ran for a call the rule takes"))
    for shape in SHAPES:  # the first shape teaches the kind of call (both run); the others are given by rule only
        x = fakeval.fake_tensor(shape, dtype)
        args = (x, *_extra(name))
        got = fakeval.propagate(name, fn, args, {})
        with fakeval.fake_mode(), torch.no_grad():
            want = fn(*args)
        assert (tuple(got.shape), tuple(got.stride()), got.dtype) == (
            tuple(want.shape), tuple(want.stride()), want.dtype), shape
        assert (got is x) == (want is x), shape
    assert seen_rule and all(seen_rule)
    assert fakeval._meta_agrees and all(fakeval._meta_agrees.values())


def test_the_rule_takes_only_contiguous_float_tensors():
    relu = "aten.relu.default"
    x = fakeval.fake_tensor((2, 3), torch.float32)
    assert fakeval._by_rule(relu, (x,), {}) == ("T", (2, 3), (3, 1), torch.float32)
    assert fakeval._by_rule("aten.relu_.default", (x,), {}) == ("alias", 0)
    assert fakeval._by_rule(relu, (fakeval.fake_tensor((2, 3), torch.float32, (1, 2)),), {}) is None  # transposed
    assert fakeval._by_rule(relu, (fakeval.fake_tensor((2, 3), torch.int64),), {}) is None
    assert fakeval._by_rule("aten.clamp.default", (x, x), {}) is None  # a tensor bound
    assert fakeval._by_rule("aten.add.Tensor", (x, x), {}) is None
