"""What the tests of the reference prepare share (tests/reference/test_prepare_impl.py and
tests/reference/test_prepare_impl_errors.py): the example input ``X``, ``_prepare`` (the reference prepare, or another
``impl``, on a model), ``_module_read_by`` (the observer a node reads), and two small graphs, ``cat_graph`` and
``ConvBias``."""

from __future__ import annotations

import torch

import prepare_impl
from annotate_by_hand import export, nodes

X = torch.randn(1, 3, 8, 8)


def _prepare(gm, is_qat=False, impl=prepare_impl.prepare, **kw):
    return impl(gm, {}, is_qat, **kw)


def _module_read_by(prepared, consumer, arg_index=0):
    arg = nodes(prepared)[consumer].args[arg_index]
    return prepared.get_submodule(arg.target) if arg.op == "call_module" else None


def cat_graph():
    return export(lambda a, b: torch.cat([torch.relu(a), torch.sigmoid(b)], 1), X, X)


class ConvBias(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x)
