#!/usr/bin/env bash
# Scenario (run by tests/fuzz/test_ray_engine.py inside `unshare -n`, where only 127.0.0.1 exists): a real Ray head
# started with `ray start`, two campaigns joining it by address through the command line, then `ray stop`.
# Usage: head_and_cli.sh OUT_DIR PORT SECONDS
set -u
out=$1 port=$2 seconds=$3
ip link set lo up
export RAY_USAGE_STATS_ENABLED=0
ray start --head --num-cpus 2 --disable-usage-stats --port "$port" --include-dashboard=false >"$out.head.log" 2>&1 \
  || { echo "RAY_START_FAILED"; cat "$out.head.log"; exit 90; }
python - "$port" <<'PY'
import sys, ray
ray.init(address=f"127.0.0.1:{sys.argv[1]}", log_to_driver=False)
print("NODE_ADDRESSES", ",".join(sorted({n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]})))
ray.shutdown()
PY
for run in 1 2; do
  python -m harness fuzz --engine ray --address "127.0.0.1:$port" --candidate harness.mutants:no_output_sharing \
    --seconds "$seconds" --out "$out" --stop-on-new >"$out.run$run.log" 2>&1
  echo "EXIT_$run $?"
done
ray stop >/dev/null 2>&1
