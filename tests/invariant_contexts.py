"""Check contexts over the small prepared models of :mod:`prepared_models`, and the helpers the invariants' tests use to
break a prepared model on purpose (tests/check/test_invariants*.py)."""

from __future__ import annotations

import torch
from torchao.quantization.pt2e.observer import ObserverBase

from harness.check.invariants import CheckContext, Violation, expected_groups_from_upstream
from harness.check.observer_map import locate_observers
from prepared_models import annotated, prepared_case


def ctx_for(name: str, is_qat: bool = False, groups: bool = True, inputs: bool = True) -> CheckContext:
    p = prepared_case(name, is_qat)
    return CheckContext(
        original=p.original,
        prepared=p.prepared,
        is_qat=is_qat,
        expected_groups=expected_groups_from_upstream(annotated(name, is_qat)) if groups else None,
        example_inputs=p.example_inputs if inputs else None,
    )


def node_of(ctx: CheckContext, key: str):
    return locate_observers(ctx.original, ctx.prepared).key_node[key]


def module_of(ctx: CheckContext, key: str):
    return ctx.prepared.get_submodule(node_of(ctx, key).target)


def named(ctx: CheckContext, name: str):
    return next(n for n in ctx.prepared.graph.nodes if n.name == name)


def remove_observer(ctx: CheckContext, node) -> None:
    node.replace_all_uses_with(node.args[0])
    ctx.prepared.graph.erase_node(node)


def messages(vs: list[Violation]) -> list[str]:
    return [v.message for v in vs]


class ScalingObserver(ObserverBase):
    """An 'observer' that changes its input: breaks float semantics while looking like an observer."""

    def __init__(self):
        super().__init__(dtype=torch.int8)

    def forward(self, x):
        return x * 1.5

    def calculate_qparams(self):
        return torch.tensor([1.0]), torch.tensor([0])
