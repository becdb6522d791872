#!/usr/bin/env bash
# Runs the benchmarks in a Release build and prints the figures BENCHMARKS.md records:
# microbenchmarks (metered vs the bare handler) and HTTP throughput with wrk (/metered vs /plain).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null

cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
  -DTOLLGATE_BUILD_TESTS=OFF -DTOLLGATE_BUILD_EXAMPLES=OFF -DTOLLGATE_BUILD_BENCH=ON >/dev/null
cmake --build build/bench -j "$(nproc)" >/dev/null

echo "== microbenchmarks (Google Benchmark, 5 repetitions, medians) =="
build/bench/bench/tollgate_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_format=json --benchmark_out=build/bench/micro.json --benchmark_out_format=json >/dev/null
python3 - <<'PY'
import json
runs = {b["run_name"]: b for b in json.load(open("build/bench/micro.json"))["benchmarks"] if b["aggregate_name"] == "median"}
for name, b in runs.items():
    print(f"{name:45s} {b['real_time']:10.1f} ns")
direct = runs["BM_handler_direct"]["real_time"]
metered = runs["BM_metered_memory_ledger"]["real_time"]
print(f"metered / direct: {metered / direct:.1f}x  (overhead {metered - direct:.0f} ns per request)")
PY

echo "== HTTP (wrk, 2 threads, 8 connections (httplib has 8 workers), 5 s each, same machine) =="
log=$(mktemp)
build/bench/bench/tollgate_http_bench_server >"$log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q '^listening on' "$log" && break; sleep 0.05; done
base="http://$(sed -n 's/^listening on //p' "$log")"
declare -A rps
for route in plain metered; do
  out=$(wrk -t2 -c8 -d5s --latency -H 'X-User-ID: bench-user' "$base/$route")
  rps[$route]=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "/$route: ${rps[$route]} req/s, p99 $p99"
done
python3 -c "print(f\"metered / plain throughput: {float('${rps[metered]}') / float('${rps[plain]}'):.3f}\")"
echo "balance after the metered run: $(curl -s "$base/balance") (each metered request charged exactly 0.001)"
