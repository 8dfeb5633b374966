"""Running a quantizer in the quantizer suite (``harness.common.timelimit``, ``harness.suite.source``,
``harness.suite.checks.quantizer_run``, ``.structure`` and ``.hangs``), without pytest-in-pytest: time limits, loading
quantizers, check 1 (annotate changes nothing but annotations), and a quantizer that hangs."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import torch
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

from harness import quantizers
from harness.common.timelimit import TimeLimitExceeded, call_with_time_limit
from harness.fx.nodes import ANNOTATION_KEY as KEY
from harness.suite.checks import hangs
from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.checks.structure import eliminated_dead_code, graph_structure, structure_changes
from harness.suite.source import (
    QuantizerLoadError,
    QuantizerSource,
    load_quantizer_factory,
    make_quantizer,
    quantizer_source,
)
from harness.suite.subjects import models

from suite_mlp import ACT, _messages, _mlp


# ---- time limits ---------------------------------------------------------------------------------


def _sleep_forever() -> None:
    time.sleep(3600)


def _spin_forever() -> None:
    while True:
        pass


@pytest.mark.parametrize("fn", [_sleep_forever, _spin_forever], ids=["sleep", "busy loop"])
def test_a_call_that_does_not_return_is_stopped(fn) -> None:
    with pytest.raises(TimeLimitExceeded, match="annotate\\(\\) did not return within 0.2 s"):
        call_with_time_limit(fn, 0.2, what="annotate()")


def test_a_call_that_swallows_the_interruption_is_interrupted_again() -> None:
    def stubborn() -> None:
        try:
            time.sleep(3600)
        except BaseException:  # noqa: BLE001 - what a careless quantizer does
            pass
        time.sleep(3600)

    with pytest.raises(TimeLimitExceeded):
        call_with_time_limit(stubborn, 0.2)


def test_results_and_exceptions_pass_through_and_no_alarm_is_left_behind() -> None:
    import signal

    assert call_with_time_limit(lambda a, b: a + b, 5, 1, b=2) == 3
    with pytest.raises(KeyError, match="x"):
        call_with_time_limit(lambda: {}["x"], 5)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None) or callable(
        signal.getsignal(signal.SIGALRM))


def test_outside_the_main_thread_a_thread_is_used() -> None:
    out: dict = {}

    def worker() -> None:
        try:
            call_with_time_limit(_spin_forever, 0.2)
        except TimeLimitExceeded as e:
            out["error"] = e
        out["value"] = call_with_time_limit(lambda: 7, 5)

    t = threading.Thread(target=worker)
    t.start()
    t.join(30)
    assert isinstance(out.get("error"), TimeLimitExceeded) and out["value"] == 7


# ---- loading quantizers --------------------------------------------------------------------------


def test_loading_a_factory_a_class_and_an_instance() -> None:
    source = load_quantizer_factory("harness.quantizers:xnnpack")
    assert source.label == "harness.quantizers:xnnpack"
    assert source.factory() is not source.factory()  # a new quantizer per call
    from torchao.quantization.pt2e.quantizer.embedding_quantizer import EmbeddingQuantizer

    by_class = quantizer_source(EmbeddingQuantizer)
    assert isinstance(by_class.factory(), EmbeddingQuantizer)
    instance = quantizers.embedding()
    assert quantizer_source(instance).factory() is instance


@pytest.mark.parametrize("spec, message", [
    ("harness.quantizers", "expected MODULE:NAME"),
    ("harness.no_such_module:q", "cannot import 'harness.no_such_module'"),
    ("harness.quantizers:nope", "has no attribute 'nope'"),
    ("harness.suite.subjects.models:model_names", "the factory returned list, not a Quantizer"),
])
def test_loading_errors_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(QuantizerLoadError, match=message) as info:
        load_quantizer_factory(spec)
    assert not info.value.unavailable


def test_a_factory_needing_a_missing_package_is_unavailable() -> None:
    def needs_executorch():
        raise quantizers.QuantizerUnavailable("needs ExecuTorch")

    with pytest.raises(QuantizerLoadError) as info:
        make_quantizer(QuantizerSource("x", needs_executorch))
    assert info.value.unavailable


# ---- check 1: the graph does not change ----------------------------------------------------------


def test_structure_changes_name_what_changed() -> None:
    gm, linears = _mlp()
    before = graph_structure(gm)
    assert structure_changes(before, graph_structure(gm)) == []
    linears[0].meta[KEY] = QuantizationAnnotation(output_qspec=ACT)  # annotations are not structure
    assert structure_changes(before, graph_structure(gm)) == []
    with torch.no_grad():
        gm.fc1.weight.mul_(2)
    linears[1].args = (linears[1].args[0], linears[1].args[1])  # drop the bias
    changes = structure_changes(before, graph_structure(gm))
    assert "the values of parameter/buffer 'fc1.weight' were modified" in changes
    assert any(c.startswith("node 'linear_1' changed: call_function aten.linear.default(relu, fc2_weight, "
                            "fc2_bias) became call_function aten.linear.default(relu, fc2_weight)") for c in changes)


def test_run_quantizer_reports_a_graph_change_by_annotate() -> None:
    class Renaming:
        def annotate(self, gm):
            for n in gm.graph.nodes:
                if n.op == "call_function":
                    n.target = torch.ops.aten.relu.default if n.target == torch.ops.aten.hardtanh.default \
                        else n.target
            gm.recompile()

        def validate(self, gm):
            pass

    ann = run_quantizer(models.export_model("mlp"), quantizer_source(Renaming()), timeout=30)
    assert not ann.failed
    (problem,) = ann.problems
    assert "annotate() changed the graph" in problem.message
    assert "node 'hardtanh' changed: call_function aten.hardtanh.default(linear_1, -1.0, 1.0) became " \
           "call_function aten.relu.default(linear_1, -1.0, 1.0)" in problem.message


class _DeadNodes(torch.nn.Module):
    """What torch.export keeps: a relu nothing uses and an in-place write to a buffer whose value nothing uses."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        self.register_buffer("count", torch.zeros(2, 4))

    def forward(self, x):
        y = self.lin(x)
        torch.relu(y)
        self.count.add_(x)
        return torch.sigmoid(y)


def _dead_nodes_gm():
    return models.strip_guards(torch.export.export(_DeadNodes(), (torch.randn(2, 4),)).module())


class _Editing:
    """A quantizer whose annotate() applies ``edit`` to the graph, then annotates nothing."""

    def __init__(self, edit) -> None:
        self.edit = edit

    def annotate(self, gm):
        self.edit(gm)
        gm.recompile()
        return gm

    def validate(self, gm):
        pass


def _erase(target):
    def edit(gm):
        for n in list(gm.graph.nodes):
            if n.op == "call_function" and n.target == target:
                n.replace_all_uses_with(n.args[0])
                gm.graph.erase_node(n)
    return edit


def test_dead_code_elimination_by_annotate_is_a_note() -> None:
    ann = run_quantizer(_dead_nodes_gm(), quantizer_source(_Editing(lambda gm: gm.graph.eliminate_dead_code())), 30)
    assert not ann.failed
    assert [(p.level, p.message) for p in ann.problems] == [
        ("note", "annotate() removed nodes nothing used (dead-code elimination of side-effect-free nodes: allowed, "
                 "no result changes)\n  removed: relu")]
    assert "add_" in [n.name for n in ann.gm.graph.nodes]  # eliminate_dead_code keeps the side effect


def test_removing_a_dead_in_place_write_or_a_used_node_is_a_change() -> None:
    buffer_write = run_quantizer(_dead_nodes_gm(), quantizer_source(_Editing(_erase(torch.ops.aten.add_.Tensor))), 30)
    (problem,) = [p for p in buffer_write.problems if p.level == "error"]
    assert problem.message == ("annotate() changed the graph (only annotations may change):\n"
                               "  - node 'add_' was removed; it has side effects")
    used = run_quantizer(_dead_nodes_gm(), quantizer_source(_Editing(_erase(torch.ops.aten.sigmoid.default))), 30)
    (problem,) = [p for p in used.problems if p.level == "error"]
    assert problem.message.splitlines()[1:] == ["  - node 'sigmoid' was removed, though 'output' used it",
                                                "  - node 'output' changed: output output([sigmoid]) became "
                                                "output output([linear])"]


def test_a_dead_node_used_only_by_removed_dead_nodes_is_dead_too() -> None:
    gm = _dead_nodes_gm()
    before = graph_structure(gm)
    relu = next(n for n in gm.graph.nodes if n.target == torch.ops.aten.relu.default)
    with gm.graph.inserting_after(relu):
        neg = gm.graph.call_function(torch.ops.aten.neg.default, (relu,))  # a dead chain: relu -> neg
    with_chain = graph_structure(gm)
    gm.graph.erase_node(neg)
    gm.graph.erase_node(relu)
    after = graph_structure(gm)
    assert eliminated_dead_code(with_chain, after) == ["relu", neg.name]
    assert structure_changes(with_chain, after) == []
    assert eliminated_dead_code(before, after) == ["relu"] and structure_changes(before, after) == []


def test_run_quantizer_checks_what_transform_for_annotation_returns() -> None:
    class NoModel:
        def transform_for_annotation(self, gm):
            return None

        def annotate(self, gm):
            pass

        def validate(self, gm):
            pass

    ann = run_quantizer(models.export_model("mlp"), quantizer_source(NoModel()), timeout=30)
    assert ann.failed
    assert _messages(ann.problems) == ["transform_for_annotation() returned NoneType, not a GraphModule"]


# ---- hangs ---------------------------------------------------------------------------------------


class _HangsOnce:
    """Sleeps in its first annotate() call; counts the calls."""

    calls = 0

    def annotate(self, gm):
        type(self).calls += 1
        if type(self).calls == 1:
            time.sleep(3600)
        return gm

    def validate(self, gm):
        pass


def test_after_a_timeout_the_quantizer_is_not_called_again() -> None:
    source = QuantizerSource("test:hangs-once", _HangsOnce)
    try:
        first = run_quantizer(models.export_model("mlp"), source, 0.5, "model 'mlp'")
        assert first.failed and "annotate() did not return within 0.5 s" in first.problems[0].message
        attention = models.export_model("attention")
        started = time.monotonic()
        again = run_quantizer(attention, source, 0.5, "model 'attention'")
        assert time.monotonic() - started < 0.4
        assert again.failed and again.gm is None and _HangsOnce.calls == 1
        assert _messages(again.problems) == [
            "the quantizer hung earlier (annotate() on model 'mlp' did not return within 0.5 s)"]
    finally:
        hangs.clear_caches()


def test_another_process_learns_of_the_hang_through_the_marker_directory(tmp_path) -> None:
    markers = str(tmp_path / "markers")
    code = ("import sys; from harness.suite.checks import hangs; "
            "hangs.record_hang(sys.argv[1], \"annotate() on model 'mlp' did not return within 60 s\", sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, "test:other-process", markers], check=True)
    assert [p.suffix for p in (tmp_path / "markers").iterdir()] == [hangs.MARKER_SUFFIX]  # no temporary file left

    class NeverCalled:
        def annotate(self, gm):
            raise AssertionError("annotate() was called")

        def validate(self, gm):
            pass

    source = QuantizerSource("test:other-process", NeverCalled)
    try:
        assert run_quantizer(models.export_model("mlp"), source, 60, hang_markers=None).problems[0].level == "error"
        ann = run_quantizer(models.export_model("mlp"), source, 60, hang_markers=markers)
        assert _messages(ann.problems) == [
            "the quantizer hung earlier (annotate() on model 'mlp' did not return within 60 s)"]
        hangs.clear_hang_markers(markers)
        hangs.clear_caches()
        assert not (tmp_path / "markers").exists()
        assert run_quantizer(models.export_model("mlp"), source, 60, hang_markers=markers).problems[0].message \
            .startswith("annotate() raised AssertionError: annotate() was called")
    finally:
        hangs.clear_caches()

