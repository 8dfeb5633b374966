"""harness.fx.export: one export helper, giving torch.export's module without the guard call."""

from __future__ import annotations

import torch

from harness.fx.export import GUARDS_FN, export_module, strip_guards


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)

    def forward(self, x):
        return torch.relu(self.lin(x)) + 1


def _ops(gm: torch.fx.GraphModule) -> list[tuple[str, str]]:
    return [(n.op, str(n.target)) for n in gm.graph.nodes]


def test_export_module_is_the_exported_program_without_the_guard_call():
    model = _Net().eval()
    x = torch.randn(2, 4)
    gm = export_module(model, (x,))
    assert not any(op == "call_module" for op, _ in _ops(gm))
    assert not hasattr(gm, GUARDS_FN)
    torch.testing.assert_close(gm(x), model(x))
    plain = torch.export.export(model, (x,)).module()
    assert [row for row in _ops(plain) if row != ("call_module", GUARDS_FN)] == _ops(gm)


def test_strip_guards_removes_only_an_unused_guard_call():
    model = _Net().eval()
    x = torch.randn(2, 4)
    gm = torch.export.export(model, (x,)).module()
    assert ("call_module", GUARDS_FN) in _ops(gm)  # what torch.export gives by default
    assert strip_guards(gm) is gm
    assert ("call_module", GUARDS_FN) not in _ops(gm) and not hasattr(gm, GUARDS_FN)
    torch.testing.assert_close(gm(x), model(x))
    before = _ops(gm)
    strip_guards(gm)  # nothing left to strip
    assert _ops(gm) == before
