"""The standalone repro scripts of ``repros/``: each reproduces its upstream bug on its own, and the reference
prepare is right on the same program.

Each script exits 1 while its bug is there and 0 once upstream fixes it, so running it is a strict xfail: the day
torchao (or ExecuTorch) fixes the bug, the suite says so.
"""

from __future__ import annotations

import importlib.util
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import prepare_impl

REPROS = Path(__file__).resolve().parents[2] / "repros"
SCRIPTS = sorted(REPROS.glob("*.py"))
BUG_LIST = REPROS.parent / "docs" / "upstream-bugs.md"


def _public_link(script: Path) -> str:
    """The first public link of the item of ``docs/upstream-bugs.md`` that names ``script`` ("" if none does)."""
    doc = BUG_LIST.read_text()
    starts = [0] + [m.start() for m in re.finditer(r"(?m)^(\d+\. |#{2,3} )", doc)] + [len(doc)]
    for m in re.finditer(re.escape(f"repros/{script.name}"), doc):
        item = doc[max(s for s in starts if s <= m.start()):min(s for s in starts if s > m.start())]
        link = re.search(r"https://[^\s)\]>`]+", item)
        if link:
            return link.group(0)
    return ""


def test_there_are_repro_scripts():
    assert SCRIPTS, f"no script in {REPROS}"


_RUNS: dict = {}
_EXECUTORCH = "(pip install --no-deps executorch==1.5.1 && pip install -e '.[executorch]')"


def _missing(script: Path) -> str:
    """Why ``script`` cannot run here ("" when it can): ExecuTorch, and for its Arm and Cortex-M quantizers the
    tosa-tools of the ``executorch`` extra."""
    text = script.read_text()
    if "executorch" in text and importlib.util.find_spec("executorch") is None:
        return f"needs ExecuTorch {_EXECUTORCH}"
    if ("backends.arm" in text or "backends.cortex_m" in text) and importlib.util.find_spec("tosa") is None:
        return f"needs tosa-tools, in the executorch extra {_EXECUTORCH}"
    return ""


def _run(script: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """The script run standalone (once per session): torch and torchao only, not this project."""
    if script not in _RUNS:
        env = {**os.environ, "PYTHONPATH": ""}
        _RUNS[script] = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                                       text=True, timeout=300)
    return _RUNS[script]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_reproduces_its_bug_or_says_it_is_fixed(script, tmp_path):
    """1: the bug is there; 0: upstream fixed it. Anything else is the script's own failure."""
    missing = _missing(script)
    if missing:
        pytest.skip(missing)
    done = _run(script, tmp_path)
    assert done.returncode in (0, 1), done.stdout[-1500:] + done.stderr[-2000:]
    if done.returncode == 1:  # the bug, said so; not the script's own crash (which also exits 1)
        assert "bug" in done.stdout.strip().splitlines()[-1], done.stdout[-1500:] + done.stderr[-2000:]


def test_every_script_has_a_public_link_in_the_list_of_bugs():
    assert not [p.name for p in SCRIPTS if not _public_link(p)]


@pytest.mark.slow
@pytest.mark.parametrize("script", [
    pytest.param(p, id=p.stem, marks=pytest.mark.xfail(strict=True, reason=(
        f"the upstream bug it reproduces ({_public_link(p) or 'no link'}) is still in torchao 0.18 or ExecuTorch "
        "1.5.1"))) for p in SCRIPTS])
def test_script_passes_once_upstream_is_fixed(script, tmp_path):
    if _missing(script):
        pytest.fail(_missing(script))  # an xfail without it: nothing to learn
    assert _run(script, tmp_path).returncode == 0


def test_reference_observes_the_in_place_edge_torchao_misses():
    """ao-buffer-walk-skips-lists: the reference's prepare_pt2e, given the repro's module and quantizer, observes
    the edge into add_ (the value depends on the input x through cat)."""
    script = runpy.run_path(str(REPROS / "ao_buffer_walk_skips_lists.py"), run_name="repro")
    exported = torch.export.export(script["Model"]().eval(), (torch.randn(1, 3, 8, 8),)).module()
    quantizer = script["XNNPACKQuantizer"]().set_global(script["get_symmetric_quantization_config"]())
    prepared = prepare_impl.prepare_pt2e(exported, quantizer)
    add_ = next(n for n in prepared.graph.nodes if n.target == torch.ops.aten.add_.Tensor)
    first = add_.args[0]
    assert first.op == "call_module" and first.target.startswith("activation_post_process_"), prepared.graph
