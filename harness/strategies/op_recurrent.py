"""The recurrent modules of real quantizers' vocabulary (issue 14): ``nn.GRU`` and ``nn.LSTM`` as ``torch.export``
writes them, ``aten.gru.input`` / ``aten.lstm.input``, each read through ``getitem`` (the output sequence, the last
hidden state, for an LSTM the last cell state).

The rule of the ATen call (``input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
batch_first``): ``params`` lists the module's weights layer by layer, direction by direction, each as ``w_ih``
(``G*H x I``, ``G*H x D*H`` after the first layer), ``w_hh`` (``G*H x H``), then ``b_ih`` and ``b_hh`` (``G*H``)
with biases, where ``G`` is 3 for a GRU and 4 for an LSTM, ``H`` the hidden size and ``D`` 2 when bidirectional;
``hx`` (a GRU: one tensor; an LSTM: a list of two) is ``D*num_layers x N x H``, for ``x`` of ``N x L x I`` with
``batch_first``, else ``L x N x I`` (the call is always batched: ``nn.GRU`` unsqueezes an unbatched input before it,
so only 3-d inputs are drawn). The output sequence is ``x``'s shape with ``D*H`` features; each state has ``hx``'s
shape.

The program spelling is the module (``nn.GRU(I, H, num_layers, bias=..., batch_first=..., bidirectional=...)``, its
mode the call's ``train``), called as real code calls it: ``gru(x)`` when the initial state is a ``torch.zeros``
made for that call alone (export writes that ``zeros`` back inside the module's call, as ``nn.GRU`` makes it),
else ``gru(x, h0)``; the function ``torch.gru`` / ``torch.lstm`` when the weights cannot be the module's (tied or
shared). The generator draws the state as such a ``zeros`` most of the time, else an activation of its shape, and
reads the output sequence always, each state one time in eight (an unread state is the common ``y, _ = gru(x)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from harness.case import Ref, TensorMeta
from harness.strategies.gen_base import Op, OpGen, Val
from harness.strategies.op_gens_more import on_value
from harness.strategies.reuse import BOOLS
from harness.strategies.shapes import ShapeRuleError

if TYPE_CHECKING:
    from harness.strategies.graph_state import GraphState

__all__ = ["RECURRENT", "RULES", "GATES", "weight_names"]

GATES = {"aten.gru.input": 3, "aten.lstm.input": 4}
_HIDDEN = (4, 8)


def weight_names(layers: int, bidirectional: bool, bias: bool) -> tuple[str, ...]:
    """The module's weights in the order of the call's ``params`` (``nn.GRU._flat_weights_names``)."""
    names = []
    for layer in range(layers):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            kinds = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if bias else ())
            names += [f"{k}_l{layer}{suffix}" for k in kinds]
    return tuple(names)


def _rule(node: Any, args: tuple, kwargs: dict, t) -> tuple:
    x, hx, params = t(args[0]), args[1], args[2]
    has_bias, layers, bidirectional = args[3], args[4], args[7]
    states = [t(h) for h in hx] if isinstance(hx, (tuple, list)) else [t(hx)]
    directions = 2 if bidirectional else 1
    if len(params) != (4 if has_bias else 2) * directions * layers or len(x.shape) != 3:
        raise ShapeRuleError(node, f"{len(params)} weights and a rank-{len(x.shape)} input do not fit {layers} "
                                   f"layer(s), {directions} direction(s)")
    out = x.shape[:-1] + (directions * states[0].shape[-1],)  # the sequence and batch dims keep their places
    return (TensorMeta(out, x.dtype),) + tuple(TensorMeta(s.shape, s.dtype) for s in states)


RULES = {"recurrent": _rule}


def gen_recurrent(target: str) -> OpGen:
    """``nn.GRU`` / ``nn.LSTM`` on a 2-d (unbatched) or 3-d value of at most 16 features: hidden size 4 or 8, one or
    two layers, bidirectional or not, with or without biases, batch first or not, in train or eval mode."""
    gates, lstm = GATES[target], target == "aten.lstm.input"

    def make(s: "GraphState", x: Val) -> None:
        features = x.meta.shape[-1]
        hidden, layers = s.pick(_HIDDEN), s.pick([1, 2])
        bidirectional, bias, batch_first = s.seldom(), not s.seldom(), s.draw(BOOLS)
        train = s.seldom()
        directions = 2 if bidirectional else 1
        params = []
        for name in weight_names(layers, bidirectional, bias):
            layer = int(name.split("_l")[1][0])
            if name.startswith("weight_ih"):
                shape = (gates * hidden, features if layer == 0 else directions * hidden)
            elif name.startswith("weight_hh"):
                shape = (gates * hidden, hidden)
            else:
                shape = (gates * hidden,)
            params.append(Ref(s.attr(f"{target.split('.')[1]}_{name}", shape, "parameter", reuse=False)))
        state_shape = (directions * layers, x.meta.shape[0 if batch_first else 1], hidden)
        states = [Ref(_initial_state(s, state_shape)) for _ in range(2 if lstm else 1)]
        hx = tuple(states) if lstm else states[0]
        node = s.emit(target, (Ref(x.name), hx, tuple(params), bias, layers, 0.0, train, bidirectional,
                               batch_first), operand=False)
        s.emit("getitem", (Ref(node), 0))
        for i in range(1, 3 if lstm else 2):
            if s.draw(BOOLS) and s.seldom():
                s.emit("getitem", (Ref(node), i))

    return on_value(target, lambda v: len(v.meta.shape) == 3 and v.meta.shape[-1] <= 16, make)


def _initial_state(s: "GraphState", shape: tuple[int, ...]) -> str:
    """A ``torch.zeros`` of ``shape`` (most of the time: the module makes it when none is given), else an
    activation of that shape when there is one."""
    same = s.floats(lambda v: v.meta.shape == shape)
    if same and s.seldom():
        return s.choose(same).name
    return s.emit("aten.zeros.default", (shape,), operand=False)


def _module(c: Any) -> Optional[Any]:
    """``nn.GRU`` / ``nn.LSTM`` for the call (in its mode), whose ``_flat_weights_names`` name the weights of
    ``params`` in order; None with dropout (not drawn)."""
    x, states, params = c.a[0], c.a[1], c.a[2]
    has_bias, layers, dropout, train, bidirectional, batch_first = c.a[3:9]
    if dropout:
        return None
    cls = c.nn.LSTM if isinstance(states, (tuple, list)) else c.nn.GRU
    hidden = params[1].shape[1]  # w_hh: G*H x H
    return cls(x.shape[-1], hidden, layers, bias=has_bias, batch_first=batch_first,
               bidirectional=bidirectional).train(train)


def _function(name: str):
    return lambda c: getattr(c.torch, name)(c.a[0], list(c.a[1]) if isinstance(c.a[1], (tuple, list)) else c.a[1],
                                            list(c.a[2]), *c.a[3:])


RECURRENT: tuple[Op, ...] = (
    Op("aten.gru.input", "recurrent", gen_recurrent, _function("gru"), module=_module,
       owns=(None, None, "_flat_weights_names")),
    Op("aten.lstm.input", "recurrent", gen_recurrent, _function("lstm"), module=_module,
       owns=(None, None, "_flat_weights_names")),
)
