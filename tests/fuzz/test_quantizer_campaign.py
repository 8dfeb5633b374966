"""``python -m harness fuzz --quantizer M:F``: the quantizer suite's random-graph checks as a campaign.

The target (harness.suite.fuzz_target) gives name-free signatures per stage (annotate, well_formed, prepare) and
saves the graph with the quantizer's annotations; run as a user would, a broken quantizer is a finding (exit 1), a
hanging one a `timeout` finding, a sound one (XNNPACK) exit 0, on the local engine and on a local Ray instance.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, Quantizer, SharedQuantizationSpec

from harness.case import Case, Graph, Node, Ref, TensorMeta
from harness.case.files import iter_cases, load_case
from harness.fuzz.config import CampaignConfig
from harness.fuzz.target import load_target
from harness.suite.checks.pipeline_bugs import PIPELINE_BUGS


def _quantizers_own(out) -> list:
    """The findings saved in ``out`` but the known upstream bugs of torchao's steps around the quantizer (its
    batch-norm fusions, which motifs reach in any quantizer campaign)."""
    return [c for _, c in iter_cases(out) if c.info.title not in PIPELINE_BUGS]

QUANTIZER_TARGET = "harness.suite.fuzz_target:quantizer_target"


def _float_ops(gm):
    return [n for n in gm.graph.nodes if n.op == "call_function" and isinstance(n.meta.get("val"), torch.Tensor)
            and n.meta["val"].is_floating_point()]


class Cycle(Quantizer):
    def annotate(self, gm):
        for n in _float_ops(gm):
            n.meta["quantization_annotation"] = QuantizationAnnotation(output_qspec=SharedQuantizationSpec(n))
        return gm

    def validate(self, gm):
        pass


class Raises(Quantizer):
    def annotate(self, gm):
        raise ValueError(f"cannot annotate {len(gm.graph.nodes)} nodes")

    def validate(self, gm):
        pass


def _target(quantizer, candidate=CampaignConfig.candidate):
    return load_target(CampaignConfig(target=QUANTIZER_TARGET, quantizer=quantizer, candidate=candidate))


def _chain(ops, prefix="n"):
    """x -> ops[0] -> ops[1] ... -> output, on a 4-d input."""
    nodes = [Node("x", "placeholder", tensor=TensorMeta((1, 3, 8, 8)))]
    for i, (target, extra) in enumerate(ops):
        nodes.append(Node(f"{prefix}{i}", "call_function", target, (Ref(nodes[-1].name),) + extra))
    nodes.append(Node("output", "output", args=((Ref(nodes[-1].name),),)))
    return Case(Graph(tuple(nodes)), ())


RELU = ("aten.relu.default", ())


def test_a_quantizer_that_raises_has_one_name_free_signature_on_any_graph():
    target = _target(f"{__name__}:Raises")
    first, second = target.check(_chain([RELU])), target.check(_chain([RELU, RELU, RELU], prefix="other"))
    assert first.failed and second.failed
    assert first.signature == second.signature == "annotate: annotate() raised ValueError in annotate"
    assert first.triage == "new" and first.known is None
    assert "cannot annotate" in first.summary() and target.finding_case(first).info.kind == "finding"


def test_a_sharing_cycle_is_a_well_formed_finding_saved_with_the_quantizer_s_annotations():
    target = _target(f"{__name__}:Cycle")
    verdict = target.check(_chain([RELU, RELU]))
    assert verdict.failed and verdict.signature == "well_formed: CyclicSharingError"
    saved = target.finding_case(verdict)
    assert saved.annotations and all(a.output is not None for a in saved.annotations)
    assert "quantizer" in saved.info.tags and saved.info.title == verdict.signature
    assert not target.reads_annotations  # the quantizer replaces them: shrink leaves them alone


def test_a_sound_quantizer_passes_and_a_broken_prepare_of_its_annotations_is_a_prepare_finding():
    corpus = Path(__file__).resolve().parents[2] / "corpus"
    saved = load_case(next(corpus.rglob("maxpool-shares-with-its-producer-s-output-*.json")))  # conv2d, max_pool2d
    case = Case(saved.graph, ())
    sound = _target("harness.quantizers:xnnpack").check(case)
    assert not sound.failed and sound.signature == ""
    broken = _target("harness.quantizers:xnnpack", "harness.mutants:no_explicit_sharing").check(case)
    assert broken.failed and broken.signature.startswith("prepare: ") and broken.triage == "new"
    assert broken.case.annotations  # XNNPACK's annotations, as the prepare saw them


def test_an_unknown_quantizer_is_a_usage_error():
    with pytest.raises(ValueError, match="--quantizer"):
        _target(f"{__name__}:NoSuchQuantizer")
    proc = subprocess.run([sys.executable, "-m", "harness", "fuzz", "--quantizer", "no_such_module:Q", "--seconds",
                           "5"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--quantizer" in proc.stderr


# ---- as a user runs it --------------------------------------------------------------------------------------

QUANTIZERS = textwrap.dedent('''
    import time
    import torch
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation, Quantizer, SharedQuantizationSpec

    class Cycle(Quantizer):
        def annotate(self, gm):
            for n in gm.graph.nodes:
                if n.op == "call_function" and isinstance(n.meta.get("val"), torch.Tensor):
                    n.meta["quantization_annotation"] = QuantizationAnnotation(
                        output_qspec=SharedQuantizationSpec(n))
            return gm

        def validate(self, gm):
            pass

    class Hangs(Quantizer):
        def annotate(self, gm):
            while True:
                time.sleep(0.05)

        def validate(self, gm):
            pass
''')


def _fuzz(tmp_path, quantizer, seconds, *extra, prefix=()):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "broken_quantizers.py").write_text(QUANTIZERS)
    env = dict(os.environ, TORCHAO_FORCE_SKIP_LOADING_SO_FILES="1", RAY_USAGE_STATS_ENABLED="0",
               RAY_AUTH_MODE="disabled",
               PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}"
    out = tmp_path / "findings"
    command = [sys.executable, "-m", "harness", "fuzz", "--quantizer", quantizer, "--seconds", str(seconds),
               "--out", str(out), *extra]
    if prefix:
        command = [*prefix, "bash", "-c", "ip link set lo up && exec " + " ".join(command)]
    start = time.time()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds * 3 + 120)
    return proc, out, time.time() - start


@pytest.mark.slow
def test_local_campaigns_on_a_broken_a_hanging_and_a_sound_quantizer(tmp_path):
    proc, out, took = _fuzz(tmp_path / "cycle", "broken_quantizers:Cycle", 30, "--stop-on-new")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    cases = _quantizers_own(out)
    assert cases and all(c.annotations for c in cases), proc.stdout[-3000:]
    assert "well_formed: CyclicSharingError" in proc.stdout

    # no --case-timeout: the quantizer default (60 s) is cut to a third of the budget (not below 20 s), so the hang is
    # found within it (the run ends early: a quantizer that hung is not called again)
    proc, out, took = _fuzz(tmp_path / "hangs", "broken_quantizers:Hangs", 45)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "case time limit 20 s" in proc.stdout and "timeout" in proc.stdout and took < 45 * 1.1 + 5 + 15
    assert [c.info.title for c in _quantizers_own(out)] == ["timeout"]

    # a sound quantizer; a case limit above what a loaded CI machine needs for a QAT annotate (3 s quiet)
    proc, out, took = _fuzz(tmp_path / "xnnpack", "harness.quantizers:xnnpack", 30, "--case-timeout", "40")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = [line for line in proc.stdout.splitlines() if " cases in " in line]
    assert summary and int(summary[-1].split()[0]) > 0 and "0 new group(s)" in summary[-1]


UNSHARE = ["unshare", "-n", "-p", "-f", "--mount-proc"]  # as tests/fuzz/test_ray_engine.py: loopback only, own PIDs


def _namespace_ok() -> str:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is not installed"
    probe = subprocess.run([*UNSHARE, "sh", "-c", "ip link set lo up"], capture_output=True, text=True)
    return "" if probe.returncode == 0 else f"unshare -n is not permitted here: {probe.stderr.strip()[:200]}"


@pytest.mark.slow
def test_a_ray_campaign_on_a_broken_quantizer(tmp_path):
    pytest.importorskip("ray")
    why = _namespace_ok()
    if why:
        pytest.skip(why)
    proc, out, took = _fuzz(tmp_path, "broken_quantizers:Cycle", 120, "--engine", "ray", "--jobs", "1",
                            "--stop-on-new", prefix=UNSHARE)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "cases per node: 127.0.0.1" in proc.stdout
    cases = _quantizers_own(out)
    assert cases and all(c.annotations for c in cases)
    assert any(c.info.title == "well_formed: CyclicSharingError" for c in cases)
