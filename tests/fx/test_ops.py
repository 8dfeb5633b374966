"""The allow-lists of harness.fx.ops / harness.case.names and the derive functions of harness.fx.derive."""

from __future__ import annotations

import operator

import pytest
import torch

from harness.fx import derive
from harness.case import names
from harness.fx import ops
from harness.case import Const, Ctor
from torchao.quantization.pt2e import observer as obs
from torchao.quantization.pt2e import fake_quantize as fq


def test_every_allowed_op_resolves_and_reverses():
    aten = set(names.OP_NAMES) - set(names.LIBRARY_OPS)  # library ops: tests/fx/test_library_ops.py
    assert aten <= set(ops.OPS) <= set(names.OP_NAMES)
    for name in sorted(aten):
        fn = ops.resolve_op(name)
        assert ops.op_name(fn) == name
        if name != "getitem":
            assert isinstance(fn, torch._ops.OpOverload)
            packet, overload = name.split(".")[1:]
            assert fn is getattr(getattr(torch.ops.aten, packet), overload)
    assert ops.resolve_op("getitem") is operator.getitem


@pytest.mark.parametrize(
    "name",
    ["aten.conv2d.default", "aten.linear.default", "aten.cat.default", "aten.split.Tensor", "aten.relu_.default",
     "aten._native_batch_norm_legit_no_training.default", "aten.index_put_.default", "aten.hardswish.default",
     "aten.slice.Tensor", "aten.select.int", "aten.contiguous.default", "aten.unbind.int", "aten.chunk.default"],
)
def test_brief_ops_are_allowed(name):
    assert name in ops.OPS


def test_op_info_reads_the_schema():
    assert ops.op_info("aten.split.Tensor").multi_output and ops.op_info("aten.split.Tensor").returns_list
    bn = ops.op_info("aten._native_batch_norm_legit_no_training.default")
    assert bn.multi_output and bn.n_returns == 3 and not bn.returns_list
    assert ops.op_info("aten.relu_.default").inplace
    assert ops.op_info("aten.copy_.default").inplace
    assert not ops.op_info("aten.relu.default").inplace
    assert not ops.op_info("aten.relu.default").multi_output
    # training batch norm writes its running statistics (args 3 and 4), not its input
    legit = ops.op_info("aten._native_batch_norm_legit.default")
    assert legit.mutated_args == (3, 4) and not legit.inplace


@pytest.mark.parametrize("bad", ["aten.sin.default", "sin", "torch.relu", "", None, "aten.relu"])
def test_unknown_op_names_are_rejected(bad):
    with pytest.raises(ops.UnknownName) as info:
        ops.resolve_op(bad)
    assert repr(bad) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_callable_is_rejected():
    with pytest.raises(ops.UnknownName, match="aten.sin"):
        ops.op_name(torch.ops.aten.sin.default)


def test_unknown_name_message_stays_short():
    with pytest.raises(ops.UnknownName) as info:
        ops.resolve_op("x" * 10_000)
    assert len(str(info.value)) < 200


# ---- constructors ------------------------------------------------------------------------------


_CONFIGS = [("xnnpack", kw) for kw in [{}, {"is_per_channel": True}, {"is_qat": True},
                                       {"is_qat": True, "is_per_channel": True}, {"is_dynamic": True},
                                       {"is_qat": True, "is_dynamic": True}]] + [
    ("x86", kw) for kw in [{}, {"is_qat": True}, {"is_dynamic": True}, {"is_qat": True, "is_dynamic": True},
                           {"reduce_range": True}]]


def _config(family: str, kw: dict):
    """Built in the test, not at collection: the x86 quantizer's module takes a second to import."""
    if family == "xnnpack":
        from torchao.testing.pt2e._xnnpack_quantizer import get_symmetric_quantization_config

        return get_symmetric_quantization_config(**kw)
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import get_default_x86_inductor_quantization_config

    return get_default_x86_inductor_quantization_config(**kw)


@pytest.mark.parametrize("family,kw", _CONFIGS, ids=[f"{f}{kw}" for f, kw in _CONFIGS])
def test_real_quantizer_constructors_round_trip(family, kw):
    config = _config(family, kw)
    for spec in (config.input_activation, config.output_activation, config.weight, config.bias):
        if spec is None or not hasattr(spec, "observer_or_fake_quant_ctr"):
            continue
        ctor = ops.ctor_of(spec.observer_or_fake_quant_ctr)
        rebuilt = ops.resolve_ctor(ctor)
        assert ops.ctor_of(rebuilt) == ctor
        # the rebuilt constructor makes the same kind of object with the same settings
        kwargs = dict(dtype=spec.dtype, quant_min=spec.quant_min, quant_max=spec.quant_max, qscheme=spec.qscheme)
        if "PerChannel" in repr(ctor):
            kwargs["ch_axis"] = spec.ch_axis or 0
        original = spec.observer_or_fake_quant_ctr.with_args(**kwargs)()
        again = rebuilt.with_args(**kwargs)() if ctor.kwargs else rebuilt(**kwargs)
        assert type(original) is type(again)
        inner = getattr(original, "activation_post_process", None)
        if inner is not None:
            assert type(inner) is type(again.activation_post_process)
            assert inner.eps == again.activation_post_process.eps


def test_ctor_without_kwargs_is_the_class():
    assert ops.resolve_ctor(Ctor("torchao.quantization.pt2e.observer.MinMaxObserver")) is obs.MinMaxObserver
    assert ops.ctor_of(obs.MinMaxObserver) == Ctor("torchao.quantization.pt2e.observer.MinMaxObserver")


def test_nested_with_args_are_flattened_later_wins():
    ctr = obs.MinMaxObserver.with_args(eps=0.5, reduce_range=True).with_args(eps=0.25)
    ctor = ops.ctor_of(ctr)
    assert dict(ctor.kwargs) == {"eps": 0.25, "reduce_range": True}
    assert ops.resolve_ctor(ctor)().eps == ctr().eps == 0.25


def test_nested_class_kwargs_become_nested_ctors():
    ctr = fq.FakeQuantize.with_args(observer=obs.MovingAverageMinMaxObserver.with_args(averaging_constant=0.5))
    ctor = ops.ctor_of(ctr)
    (key, inner), = ctor.kwargs
    assert key == "observer"
    assert inner == Ctor("torchao.quantization.pt2e.observer.MovingAverageMinMaxObserver",
                         (("averaging_constant", 0.5),))
    built = ops.resolve_ctor(ctor)()
    assert type(built.activation_post_process) is obs.MovingAverageMinMaxObserver
    assert built.activation_post_process.averaging_constant == 0.5


def test_equal_ctors_resolve_to_one_object_but_int_and_bool_differ():
    a = Ctor("torchao.quantization.pt2e.observer.MinMaxObserver", (("reduce_range", True),))
    b = Ctor("torchao.quantization.pt2e.observer.MinMaxObserver", (("reduce_range", True),))
    c = Ctor("torchao.quantization.pt2e.observer.MinMaxObserver", (("reduce_range", 1),))
    assert ops.resolve_ctor(a) is ops.resolve_ctor(b)
    assert ops.resolve_ctor(a) is not ops.resolve_ctor(c)
    assert ops.resolve_ctor(c).p.keywords["reduce_range"] == 1 and ops.resolve_ctor(c).p.keywords["reduce_range"] is not True


def test_unknown_and_unsupported_ctors():
    with pytest.raises(ops.UnknownName, match="os.system"):
        ops.resolve_ctor(Ctor("os.system"))
    with pytest.raises(ops.UnknownName, match="torch.ao.quantization.observer.MinMaxObserver"):
        ops.ctor_of(torch.ao.quantization.observer.MinMaxObserver)
    with pytest.raises(ops.UnsupportedCtor, match="dtype"):
        ops.ctor_of(obs.MinMaxObserver.with_args(dtype=torch.qint8))
    with pytest.raises(ops.UnsupportedCtor, match="callable"):
        ops.ctor_of(obs.MinMaxObserver.with_callable_args(eps=lambda: 0.1))
    with pytest.raises(ops.UnsupportedCtor):
        ops.ctor_of(lambda: None)
    with pytest.raises(ops.UnsupportedCtor):
        ops.resolve_ctor(Ctor("torchao.quantization.pt2e.observer.MinMaxObserver", (("eps", [1]),)))


def test_all_allowed_ctors_are_observers_or_fake_quants():
    base = (obs.ObserverBase, fq.FakeQuantizeBase)
    for name, cls in ops.CTORS.items():
        assert issubclass(cls, base), name
        assert ops.ctor_of(cls).qualname == name


# ---- dtypes, qschemes, constants ---------------------------------------------------------------


def test_dtypes_and_qschemes_both_ways():
    assert ops.resolve_dtype("int8") is torch.int8
    assert ops.dtype_name(torch.uint8) == "uint8"
    assert ops.resolve_qscheme("per_channel_symmetric") is torch.per_channel_symmetric
    assert ops.qscheme_name(torch.per_tensor_affine) == "per_tensor_affine"
    assert ops.resolve_qscheme(None) is None and ops.qscheme_name(None) is None
    for name in names.DTYPE_NAMES:
        assert ops.dtype_name(ops.resolve_dtype(name)) == name
    for name in names.QSCHEME_NAMES:
        assert ops.qscheme_name(ops.resolve_qscheme(name)) == name
    with pytest.raises(ops.UnknownName):
        ops.resolve_dtype("int9")
    with pytest.raises(ops.UnknownName):
        ops.resolve_qscheme("per_block")


def test_constants_both_ways():
    for kind, table in names.CONST_NAMES.items():
        for name in table:
            obj = ops.resolve_const(Const(kind, name))
            assert ops.const_of(obj) == Const(kind, name)
    assert ops.const_of(torch.device("cpu")) == Const("device", "cpu")
    with pytest.raises(ops.UnknownName, match="cpu:0"):
        ops.const_of(torch.device("cpu", 0))
    assert ops.const_of(3) is None and ops.const_of("cpu") is None
    with pytest.raises(ops.UnknownName):
        ops.const_of(torch.device("meta"))
    with pytest.raises(ops.UnknownName):
        ops.resolve_const(Const("layout", "jagged"))
    with pytest.raises(ops.UnknownName):
        ops.resolve_const(Const("thing", "x"))  # type: ignore[arg-type]


# ---- derive functions --------------------------------------------------------------------------


def _observed(observer: torch.nn.Module, data: torch.Tensor) -> torch.nn.Module:
    observer(data)
    return observer


def test_derive_functions_are_allow_listed_both_ways():
    assert set(ops.DERIVE_FNS) == set(names.DERIVE_FN_NAMES)
    for name, fn in ops.DERIVE_FNS.items():
        assert ops.resolve_derive_fn(name) is fn and ops.derive_fn_name(fn) == name
    with pytest.raises(ops.UnknownName):
        ops.resolve_derive_fn("builtins.eval")
    with pytest.raises(ops.UnknownName):
        ops.derive_fn_name(print)


def test_bias_per_tensor_is_product_of_scales():
    g = torch.Generator().manual_seed(0)
    act = _observed(obs.MinMaxObserver(dtype=torch.int8), torch.randn(4, 5, generator=g))
    weight = _observed(obs.MinMaxObserver(dtype=torch.int8, qscheme=torch.per_tensor_symmetric),
                       torch.randn(3, 5, generator=g))
    scale, zp = derive.bias_qparams_per_tensor([act, weight])
    assert scale.shape == (1,) and zp.dtype == torch.int32 and zp.tolist() == [0]
    expected = act.calculate_qparams()[0] * weight.calculate_qparams()[0]
    torch.testing.assert_close(scale, expected.reshape(1))


def test_bias_per_channel_is_product_per_channel():
    g = torch.Generator().manual_seed(1)
    act = _observed(obs.MinMaxObserver(dtype=torch.int8), torch.randn(4, 5, generator=g))
    weight = _observed(obs.PerChannelMinMaxObserver(dtype=torch.int8, qscheme=torch.per_channel_symmetric,
                                                    ch_axis=0), torch.randn(3, 5, generator=g))
    scale, zp = derive.bias_qparams_per_channel([act, weight])
    w_scale = weight.calculate_qparams()[0]
    assert scale.shape == w_scale.shape == (3,)
    torch.testing.assert_close(scale, act.calculate_qparams()[0] * w_scale)
    assert zp.dtype == torch.int32 and zp.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="per-tensor"):
        derive.bias_qparams_per_tensor([act, weight])
    with pytest.raises(ValueError, match="activation, weight"):
        derive.bias_qparams_per_channel([act])
