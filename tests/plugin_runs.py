"""Running the ``pt2e`` pytest plugin with pytester, shared by its tests (tests/plugin/test_plugin*.py,
tests/suite/test_check_registry.py): ``BROKEN``, small quantizers each breaking one rule on the ``mlp`` model (written
into each test's directory as ``brokenq.py`` by the ``broken`` fixture), the small budget ``SMALL``, and helpers that
run the plugin in-process and read its output (``_run``, ``_outcome_of``, ``_lit``, ``_findings``, ``_reports``)."""

from __future__ import annotations

import json
import sys

import pytest

import _pytest.pytester

BROKEN = '''
import time
import torch
from torchao.quantization.pt2e.observer import MinMaxObserver, PerChannelMinMaxObserver
from torchao.quantization.pt2e.quantizer import (
    FixedQParamsQuantizationSpec, QuantizationAnnotation, QuantizationSpec, Quantizer, SharedQuantizationSpec)

ACT = QuantizationSpec(torch.int8, MinMaxObserver, -128, 127, torch.per_tensor_affine)
KEY = "quantization_annotation"


def linears(gm):
    return [n for n in gm.graph.nodes if n.op == "call_function" and n.target == torch.ops.aten.linear.default]


class Base(Quantizer):
    def validate(self, model):
        pass


class Good(Base):
    """int8 activations on every linear: correct."""
    def annotate(self, gm):
        for n in linears(gm):
            n.meta[KEY] = QuantizationAnnotation(input_qspec_map={n.args[0]: ACT}, output_qspec=ACT)
        return gm


class Cyclic(Base):
    """the input edge of the first linear shares with its output, which shares with the edge"""
    def annotate(self, gm):
        for n in linears(gm)[:1]:
            x = n.args[0]
            n.meta[KEY] = QuantizationAnnotation(input_qspec_map={x: SharedQuantizationSpec(n)},
                                                 output_qspec=SharedQuantizationSpec((x, n)))
        return gm


class Dangling(Base):
    """shares with the weight, which nobody annotates"""
    def annotate(self, gm):
        for n in linears(gm)[:1]:
            n.meta[KEY] = QuantizationAnnotation(input_qspec_map={n.args[0]: SharedQuantizationSpec(n.args[1])},
                                                 output_qspec=ACT)
        return gm


class NotAnInput(Base):
    """the second linear annotates the first linear's input"""
    def annotate(self, gm):
        ls = linears(gm)
        if len(ls) >= 2:
            ls[1].meta[KEY] = QuantizationAnnotation(input_qspec_map={ls[0].args[0]: ACT}, output_qspec=ACT)
        return gm


class WrongRange(Base):
    """int8 with quant_max 300"""
    def annotate(self, gm):
        spec = QuantizationSpec(torch.int8, MinMaxObserver, -128, 300, torch.per_tensor_affine)
        for n in linears(gm)[:1]:
            n.meta[KEY] = QuantizationAnnotation(input_qspec_map={n.args[0]: spec}, output_qspec=ACT)
        return gm


class BadAxis(Base):
    """per-channel weights on axis 3 of a 2-d weight"""
    def annotate(self, gm):
        spec = QuantizationSpec(torch.int8, PerChannelMinMaxObserver, -127, 127, torch.per_channel_symmetric, ch_axis=3)
        for n in linears(gm)[:1]:
            n.meta[KEY] = QuantizationAnnotation(input_qspec_map={n.args[0]: ACT, n.args[1]: spec}, output_qspec=ACT)
        return gm


class Garbage(Base):
    """puts a dict where a QuantizationAnnotation belongs"""
    def annotate(self, gm):
        for n in linears(gm)[:1]:
            n.meta[KEY] = {"input_qspec_map": {}, "output_qspec": ACT}
        return gm


class Raising(Base):
    def annotate(self, gm):
        raise RuntimeError("no pattern for this graph")


class Hanging(Base):
    def annotate(self, gm):
        time.sleep(3600)


class HangsOnMul(Good):
    """never returns from annotate() on a graph with a mul"""
    def annotate(self, gm):
        if any(n.target == torch.ops.aten.mul.Tensor for n in gm.graph.nodes):
            time.sleep(3600)
        return super().annotate(gm)


class Nothing(Base):
    def annotate(self, gm):
        return gm


class Mutating(Base):
    """inserts a relu after the first linear while annotating"""
    def annotate(self, gm):
        for n in linears(gm)[:1]:
            with gm.graph.inserting_after(n):
                r = gm.graph.call_function(torch.ops.aten.relu.default, (n,))
            n.replace_all_uses_with(r, delete_user_cb=lambda u: u is not r)
            gm.recompile()
            n.meta[KEY] = QuantizationAnnotation(input_qspec_map={n.args[0]: ACT}, output_qspec=ACT)
        return gm


class Coarse(Base):
    """fixed scale 1.0 on activations of magnitude ~1: almost everything rounds to 0 or 1"""
    def annotate(self, gm):
        spec = FixedQParamsQuantizationSpec(torch.int8, 1.0, 0, -128, 127, torch.per_tensor_affine)
        for n in linears(gm):
            n.meta[KEY] = QuantizationAnnotation(input_qspec_map={n.args[0]: spec}, output_qspec=spec)
        return gm


class LaterAnchor(Base):
    """valid, but torchao cannot prepare it: the first linear's input shares with a later edge (ao#4421)"""
    def annotate(self, gm):
        ls = linears(gm)
        if len(ls) >= 2:
            first, second = ls[:2]
            first.meta[KEY] = QuantizationAnnotation(
                input_qspec_map={first.args[0]: SharedQuantizationSpec((second.args[0], second))}, output_qspec=ACT)
            second.meta[KEY] = QuantizationAnnotation(input_qspec_map={second.args[0]: ACT}, output_qspec=ACT)
        return gm


class DeadCodeEliminating(Good):
    """removes the nodes nothing uses that have no side effect before annotating (graph.eliminate_dead_code())"""
    def annotate(self, gm):
        gm.graph.eliminate_dead_code()
        gm.recompile()
        return super().annotate(gm)


class RemovesBufferWrite(Good):
    """removes the in-place writes to buffers whose value nothing uses: they have side effects"""
    def annotate(self, gm):
        for n in list(gm.graph.nodes):
            if n.op == "call_function" and n.target == torch.ops.aten.add_.Tensor and not n.users:
                gm.graph.erase_node(n)
        gm.recompile()
        return super().annotate(gm)


class RemovesUsedRelu(Good):
    """removes the relu between the linears: the second linear now reads the first one's output"""
    def annotate(self, gm):
        for n in list(gm.graph.nodes):
            if n.op == "call_function" and n.target == torch.ops.aten.relu.default:
                n.replace_all_uses_with(n.args[0])
                gm.graph.erase_node(n)
        gm.recompile()
        return super().annotate(gm)


def not_a_quantizer():
    return 42
'''

SMALL = ("--pt2e-models=mlp", "--pt2e-examples=0", "-p", "no:cacheprovider")


class _KeepLibraries(_pytest.pytester.SysModulesSnapshot):
    """After an in-process run pytester unloads every module the run imported; torch cannot be imported twice in a
    process. This snapshot unloads only the run's own modules (brokenq, conftest, test files: those under
    ``local``), so each test still gets fresh ones."""

    local = ""

    def __init__(self, preserve=None) -> None:
        local = self.local

        def keep(name: str) -> bool:
            module = sys.modules.get(name)
            path = getattr(module, "__file__", None) or ""
            return not (local and path.startswith(local)) and name not in ("brokenq", "conftest")

        super().__init__(preserve=keep)


@pytest.fixture
def broken(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setattr(_KeepLibraries, "local", str(pytester.path))
    monkeypatch.setattr(_pytest.pytester, "SysModulesSnapshot", _KeepLibraries)  # snapshots of each run
    monkeypatch.setattr(pytester, "_sys_modules_snapshot", _KeepLibraries())  # pytester's own, restored at teardown
    pytester.makepyfile(brokenq=BROKEN)
    pytester.syspathinsert()
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*args, "-v", "-rA", "-W", "ignore::DeprecationWarning")


def _outcome_of(result: pytest.RunResult, test_id: str) -> str:
    """PASSED / FAILED / SKIPPED / XFAIL / ERROR of ``test_id`` in the verbose output."""
    for line in result.outlines:
        if line.startswith(test_id + " "):
            for word in ("PASSED", "FAILED", "SKIPPED", "XFAIL", "ERROR"):
                if f" {word}" in line:
                    return word
    raise AssertionError(f"{test_id} not in the output:\n" + "\n".join(result.outlines[-40:]))


def _lit(text: str) -> str:
    """``text`` as a literal fnmatch pattern (brackets are character classes there)."""
    return "".join("[[]" if c == "[" else "[]]" if c == "]" else c for c in text)


def _findings(pytester: pytest.Pytester, directory: str = "pt2e-findings") -> list[dict]:
    root = pytester.path / directory
    if not root.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(root.glob("*.json"))]


def _reports(result) -> str:
    """The output up to pytest's short summary, which repeats every failure's message in full when the CI
    environment variable is set (so counting there would count each failure twice in CI)."""
    return result.stdout.str().split("short test summary info")[0]
