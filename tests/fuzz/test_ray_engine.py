"""The Ray engine against a real Ray head and a real two-node cluster on this machine.

Test traffic stays on loopback: every scenario runs as a subprocess in a private network namespace (``unshare
-n``, then ``ip link set lo up``), where the only address Ray can find is 127.0.0.1 (Ray otherwise binds the
machine's external address and ignores ``--node-ip-address``). Each also gets its own PID namespace (``-p -f
--mount-proc``), so ``ray stop`` there stops only that scenario's Ray and nothing outlives it. Token
authentication is off inside (``RAY_AUTH_MODE=disabled``: nothing but the scenario can reach its loopback). The
scenarios skip cleanly where ``unshare`` is not permitted or Ray is not installed.
"""

from __future__ import annotations

import json
import os
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("ray") is None:  # the scenarios import it, in their own processes
    pytest.skip("ray is not installed (pip install -e '.[ray]')", allow_module_level=True)

HERE = Path(__file__).resolve().parent / "ray_scenarios"
UNSHARE = ["unshare", "-n", "-p", "-f", "--mount-proc"]
pytestmark = pytest.mark.slow


def _namespace_ok() -> str:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is not installed"
    probe = subprocess.run([*UNSHARE, "sh", "-c", "ip link set lo up"], capture_output=True, text=True)
    return "" if probe.returncode == 0 else f"unshare -n is not permitted here: {probe.stderr.strip()[:200]}"


@pytest.fixture(scope="module")
def namespace():
    why = _namespace_ok()
    if why:
        pytest.skip(why)


def _env() -> dict:
    env = dict(os.environ, TORCHAO_FORCE_SKIP_LOADING_SO_FILES="1", RAY_USAGE_STATS_ENABLED="0",
               RAY_AUTH_MODE="disabled")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_a_campaign_joins_a_ray_head_by_address_and_the_driver_writes_the_finding(namespace, tmp_path):
    out = tmp_path / "findings"
    # 120 s: a run stops at its first new finding (about 20 s here), the budget only matters on a loaded machine
    proc = subprocess.run([*UNSHARE, "bash", str(HERE / "head_and_cli.sh"), str(out), "6390", "120"],
                          capture_output=True, text=True, env=_env(), timeout=400)
    text = proc.stdout
    logs = {n: (Path(f"{out}.run{n}.log").read_text() if Path(f"{out}.run{n}.log").exists() else "") for n in (1, 2)}
    assert "NODE_ADDRESSES 127.0.0.1" in text, (text, proc.stderr[-2000:])
    assert "EXIT_1 1" in text, logs[1][-3000:]
    written = sorted(p.name for p in out.glob("*.json"))
    assert written, logs[1][-3000:]  # the driver wrote the finding (the workers write nothing)
    assert "cases per node: 127.0.0.1" in logs[1]
    # the second run replays it first: still failing, and exits 1 for it
    assert "EXIT_2 1" in text, logs[2][-3000:]
    assert "replay: still failing" in logs[2] and written[0] in logs[2]


def test_a_two_node_cluster_checks_cases_on_both_nodes(namespace, tmp_path):
    script = ("ip link set lo up && exec " + sys.executable + " " + str(HERE / "two_nodes.py") + " "
              + str(tmp_path / "out") + " 60")
    proc = subprocess.run([*UNSHARE, "bash", "-c", script], capture_output=True, text=True, env=_env(),
                          timeout=400)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, (proc.stdout[-3000:], proc.stderr[-3000:])
    result = json.loads(lines[-1])
    assert result["nodes"] == 2 and result["node_addresses"] == ["127.0.0.1"]
    assert len(result["cases_by_place"]) == 2, result  # two nodes, each checked cases
    assert all(n > 0 for n in result["cases_by_place"].values()), result
    assert result["exit"] == 1 and result["findings"], result
