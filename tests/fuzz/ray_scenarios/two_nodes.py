"""Scenario (run by tests/fuzz/test_ray_engine.py inside a private network namespace): a two-node
``ray.cluster_utils.Cluster`` on this machine, a campaign against a broken candidate on it. Prints one JSON line:
the exit status, the cases per node, the node addresses and the files written."""

from __future__ import annotations

import json
import sys

import ray
from ray.cluster_utils import Cluster

from harness.fuzz.launch import run_campaign
from harness.fuzz.config import CampaignConfig, exit_status
from harness.fuzz.ray_engine import RayEngine, connect


def main(out: str, seconds: float) -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        connect(cluster.address)
        addresses = sorted({n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]})
        config = CampaignConfig(candidate="harness.mutants:no_output_sharing", seconds=seconds, jobs=2, out=out)
        engine = RayEngine(config.case_timeout)
        result = run_campaign(config, engine=engine)
        print(json.dumps({"exit": exit_status(result, config), "cases_by_place": result.cases_by_place,
                          "node_addresses": addresses, "nodes": len(ray.nodes()),
                          "findings": [f.path for f in result.findings]}))
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
