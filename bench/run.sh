#!/usr/bin/env bash
# Benchmarks the shipped binaries with their default settings (Release, g++): microbenchmarks, then
# HTTP comparisons run A B A B … with wrk, each ratio given as a median with its min–max.
#
#   bench/run.sh                      3 pairs per comparison, wrk -t2 -c8 -d5s (about 4 minutes)
#   TOLLGATE_BENCH_PAIRS=5 bench/run.sh
#   TOLLGATE_BENCH_DURATION=2s        shorter runs, for trying the script out (not for the record)
#   TOLLGATE_BENCH_ONLY=event-loop    only (h) and (i), the Beast server and the slow credit service
#
# Every server runs on 127.0.0.1 with --port 0; the script reads the "listening on 127.0.0.1:PORT"
# line, stops every server it started on exit, and checks the money charged against wrk's counts.
set -euo pipefail
cd "$(dirname "$0")/.."

pairs=${TOLLGATE_BENCH_PAIRS:-3}
duration=${TOLLGATE_BENCH_DURATION:-5s}
[[ "$pairs" =~ ^[0-9]+$ && "$pairs" -ge 1 ]] || { echo "TOLLGATE_BENCH_PAIRS must be a positive integer" >&2; exit 2; }
[ "$pairs" -ge 3 ] || echo "warning: $pairs pair(s): fewer than 3, figures not for the record" >&2

scripts/install-deps.sh >/dev/null

# --- build: one Release tree with the examples, built once -----------------------------------------
build=build/bench
# Warnings are CI's business; a new warning must not stop a measurement.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ \
  -DTOLLGATE_BUILD_TESTS=OFF -DTOLLGATE_BUILD_EXAMPLES=ON -DTOLLGATE_BUILD_BENCH=ON \
  -DTOLLGATE_WARNINGS_AS_ERRORS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target tollgate_bench tollgate_http_bench_server tollgate_redis_bench \
  tollgate_quickstart tollgate_quickstart_beast tollgate_credit_server tollgate_billing_limits >/dev/null
micro_bin=$build/bench/tollgate_bench
bench_server_bin=$build/bench/tollgate_http_bench_server
quickstart_bin=$build/examples/tollgate_quickstart
quickstart_beast_bin=$build/examples/tollgate_quickstart_beast
credit_server_bin=$build/examples/credit_server/tollgate_credit_server
billing_bin=$build/examples/billing_limits/tollgate_billing_limits
redis_bench_bin=$build/bench/tollgate_redis_bench

tmp=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$tmp/report.py" <<'PY'
# The script's bookkeeping: parses wrk output, prints comparisons and money checks.
import json, re, statistics, sys
from decimal import Decimal

results = sys.argv[1]

def load():
    with open(results) as f:
        return [json.loads(line) for line in f]

def ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

def parse(label, group, connections, path):
    out = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(map(int, m.groups())) if m else 0
    with open(results, "a") as f:
        f.write(json.dumps({"label": label, "group": group, "connections": connections, "rps": rps, "p99": p99,
                            "requests": requests, "non2xx": bad, "errors": errors}) + "\n")
    flag = f"  ({bad} non-2xx, {errors} socket errors)" if bad or errors else ""
    print(f"    {label:28s} {rps:10.0f} req/s  p99 {p99:8.2f} ms{flag}")

def spread(values, fmt):
    return f"{fmt(statistics.median(values))} (min {fmt(min(values))}, max {fmt(max(values))})"

def compare(title, a, b, target=None):
    runs = [r for r in load() if r["group"] != "probe"]
    ra = [r for r in runs if r["label"] == a and not r.get("warmup")]
    rb = [r for r in runs if r["label"] == b and not r.get("warmup")]
    n = min(len(ra), len(rb))
    rps_ratio = [ra[i]["rps"] / rb[i]["rps"] for i in range(n)]
    p99_ratio = [ra[i]["p99"] / rb[i]["p99"] for i in range(n)]
    x = lambda v: f"{v:.3f}"
    print(f"  {title}: {n} pairs")
    for name, rs in ((a, ra), (b, rb)):
        print(f"    {name:28s} median {statistics.median(r['rps'] for r in rs):10.0f} req/s, "
              f"p99 {statistics.median(r['p99'] for r in rs):8.2f} ms")
    print(f"    throughput {a} / {b}: {spread(rps_ratio, x)}")
    print(f"    p99        {a} / {b}: {spread(p99_ratio, x)}")
    if target is not None:
        verdict = "met" if statistics.median(rps_ratio) >= target else "NOT met"
        print(f"    target throughput ratio >= {target}: {verdict}")
    bad = sum(r["non2xx"] + r["errors"] for r in ra + rb)
    if bad:
        print(f"    WARNING: {bad} non-2xx responses or socket errors in these runs")

def money(group, start, price, balance):
    # Every 2xx response wrk counted was charged; a request still in flight when a run stopped may
    # have been charged without being counted, at most one per connection per run.
    runs = [r for r in load() if r["group"] == group]
    counted = sum(r["requests"] - r["non2xx"] for r in runs)
    slack = sum(r["connections"] for r in runs)
    charged = Decimal(start) - Decimal(balance)
    requests = (charged / Decimal(price)).normalize()
    ok = requests == requests.to_integral_value() and counted <= requests <= counted + slack
    print(f"    money ({group}): charged {charged} = {requests:f} requests x {price}; wrk counted {counted} "
          f"2xx (+ up to {slack} in flight at the end of runs): {'OK' if ok else 'MISMATCH'}")
    return ok

def micro(path):
    data = json.load(open(path))["benchmarks"]
    med = {b["run_name"]: b for b in data if b.get("aggregate_name") == "median"}
    for name, b in med.items():
        ips = f"  {b['items_per_second'] / 1e6:7.2f} M items/s" if "items_per_second" in b else ""
        print(f"  {name:55s} {b['real_time']:10.1f} {b['time_unit']}{ips}")
    def time_of(name):
        return med[name]["real_time"] if name in med else None
    direct, metered = time_of("BM_handler_direct"), time_of("BM_metered_memory_ledger")
    if direct and metered:
        print(f"  metered / direct: {metered / direct:.1f}x  (overhead {metered - direct:.0f} ns per request)")
    reps = {}
    for b in data:
        if b.get("run_type") == "iteration":
            reps.setdefault(b["run_name"], []).append(b["real_time"])
    pairs = list(zip(reps.get("BM_metered_memory_ledger", []), reps.get("BM_hand_written_lock_settle", [])))
    if pairs:
        ratios = [m / h for m, h in pairs]
        print(f"  metered / hand-written lock+settle: {spread(ratios, lambda v: f'{v:.3f}')} over {len(ratios)} interleaved pairs")
    elif metered:
        print("  metered / hand-written lock+settle: BM_hand_written_lock_settle not in this build")
    threads = {}
    for name, b in med.items():
        m = re.fullmatch(r"BM_memory_ledger_lock_settle(?:/.*)?/threads:(\d+)", name)
        if m:
            threads[int(m.group(1))] = b
    if 1 in threads and 2 in threads and "items_per_second" in threads[1] and "items_per_second" in threads[2]:
        print(f"  memory_ledger lock+settle, 2 threads / 1 thread (items/s): "
              f"{threads[2]['items_per_second'] / threads[1]['items_per_second']:.2f}x")

def scaling(group):
    # Throughput of one group's runs by connection count, against what a loop that waited would do.
    runs = [r for r in load() if r["group"] == group and r["label"] != "probe"]
    base = runs[0]["rps"] if runs else 0
    for r in runs:
        print(f"    {r['connections']:3d} connections: {r['rps']:8.0f} req/s, p99 {r['p99']:8.2f} ms, "
              f"{r['rps'] / base if base else 0:5.1f}x the 1-connection rate")

def round_trips(group, first_line, commands):
    # 2xx requests of `group` recorded from line `first_line` on, against the commands Redis counted.
    runs = [r for r in load()[first_line:] if r["group"] == group]
    served = sum(r["requests"] - r["non2xx"] for r in runs)
    print(f"  round trips to Redis per metered request: {commands / served:.3f} ({commands} commands for {served} "
          f"2xx requests counted by wrk, which misses those in flight when a run stops)")

def ratio(title, a_name, b_name, target, *values):
    # values: a1 b1 a2 b2 … measured alternately; prints the per-pair ratio a/b.
    a = [float(v) for v in values[0::2]]
    b = [float(v) for v in values[1::2]]
    r = [x / y for x, y in zip(a, b)]
    x = lambda v: f"{v:.3f}"
    print(f"  {title}: {len(r)} pairs")
    print(f"    {a_name:28s} median {statistics.median(a):10.0f}/s")
    print(f"    {b_name:28s} median {statistics.median(b):10.0f}/s")
    print(f"    {a_name} / {b_name}: {spread(r, x)}")
    print(f"    target >= {target}: {'met' if statistics.median(r) >= float(target) else 'NOT met'}")

{"parse": lambda: parse(sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]),
 "compare": lambda: compare(sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]) if len(sys.argv) > 6 else None),
 "money": lambda: sys.exit(0 if money(*sys.argv[3:7]) else 1),
 "micro": lambda: micro(sys.argv[3]),
 "ratio": lambda: ratio(*sys.argv[3:]),
 "scaling": lambda: scaling(sys.argv[3]),
 "round_trips": lambda: round_trips(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))}[sys.argv[2]]()
PY
results=$tmp/results.jsonl
money_ok=1
: >"$results"
report() { python3 "$tmp/report.py" "$results" "$@"; }

# start NAME CMD… : runs a server in the background and sets $port from its first stdout line;
# returns 1 (after showing its stderr) when it does not start.
start() {
  local name=$1
  shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 200); do
    if grep -q '^listening on 127.0.0.1:' "$tmp/$name.out"; then
      port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/$name.out" | head -1)
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "  $name did not start; its stderr:"
  sed 's/^/    /' "$tmp/$name.err"
  return 1
}

# probe GROUP URL [curl args…]: one request that must answer 200 (counted for the money check).
probe() {
  local group=$1 url=$2
  shift 2
  local status
  status=$(curl -s -o "$tmp/probe.body" -w '%{http_code}' "$@" "$url")
  if [ "$status" != 200 ]; then
    echo "probe $url answered $status: $(cat "$tmp/probe.body")" >&2
    exit 1
  fi
  echo "{\"label\": \"probe\", \"group\": \"$group\", \"connections\": 0, \"rps\": 0, \"p99\": 0, \"requests\": 1, \"non2xx\": 0, \"errors\": 0}" >>"$results"
}

# backlog URL: the listen backlog of the server on URL's port as the kernel has it (ss Send-Q).
backlog() {
  local p
  p=$(sed -E 's|^https?://[^:]+:([0-9]+).*|\1|' <<<"$1")
  ss -ltnH "sport = :$p" | awk '{print $3}' | head -1
}

# run LABEL GROUP CONNECTIONS URL [wrk args…]
run() {
  local label=$1 group=$2 connections=$3 url=$4
  shift 4
  wrk -t"$(( connections < 2 ? 1 : 2 ))" -c"$connections" -d"$duration" --latency "$@" "$url" >"$tmp/wrk.out"
  report parse "$label" "$group" "$connections" "$tmp/wrk.out"
}

# warm LABEL GROUP CONNECTIONS URL [wrk args…]: one second, not compared, counted for money.
warm() {
  local label=$1 group=$2 connections=$3 url=$4
  shift 4
  wrk -t2 -c"$connections" -d1s --latency "$@" "$url" >"$tmp/wrk.out"
  report parse "$label" "$group" "$connections" "$tmp/wrk.out" >/dev/null
  sed -i '$ s/}$/, "warmup": true}/' "$results"
}

# alternate A_LABEL A_GROUP A_URL A_HEADER B_LABEL B_GROUP B_URL B_HEADER CONNECTIONS: A B A B …
alternate() {
  local a_label=$1 a_group=$2 a_url=$3 a_header=$4 b_label=$5 b_group=$6 b_url=$7 b_header=$8 connections=$9
  local a_args=() b_args=()
  [ -z "$a_header" ] || a_args=(-H "$a_header")
  [ -z "$b_header" ] || b_args=(-H "$b_header")
  warm "$a_label" "$a_group" "$connections" "$a_url" "${a_args[@]}"
  warm "$b_label" "$b_group" "$connections" "$b_url" "${b_args[@]}"
  for _ in $(seq "$pairs"); do
    run "$a_label" "$a_group" "$connections" "$a_url" "${a_args[@]}"
    run "$b_label" "$b_group" "$connections" "$b_url" "${b_args[@]}"
  done
}

# --- (h), (i): the event-loop path --------------------------------------------------------------------
event_loop_sections() {
  echo
  echo "== (h) Beast bench server, one loop thread, embedded memory ledger: /metered vs /plain, then with metrics on, 8 connections =="
  start beast_server "$bench_server_bin" --beast
  local beast_url=http://127.0.0.1:$port
  probe beast "$beast_url/metered" -H 'X-User-ID: bench-user'
  alternate beast_metered beast "$beast_url/metered" 'X-User-ID: bench-user' beast_plain beast_plain "$beast_url/plain" '' 8
  report compare "Beast metered / Beast plain" beast_metered beast_plain 0.95
  alternate beast_metrics beast "$beast_url/metered-metrics" 'X-User-ID: bench-user' beast_metered_again beast "$beast_url/metered" 'X-User-ID: bench-user' 8
  report compare "Beast metered with metrics / Beast metered" beast_metrics beast_metered_again
  sleep 0.5
  report money beast 1000000000 0.001 "$(curl -s "$beast_url/balance")" || money_ok=0

  echo
  echo "== (i) Beast quickstart, one loop thread -> credit server behind a 50 ms proxy: /api/simple by connections =="
  local slow_token=slow-token-$RANDOM$RANDOM
  cat >"$tmp/slow_seed.json" <<JSON
{"users": [{"user_id": "bench-user", "balance": 1000000000, "credentials": [{"key": "bench-user", "is_public": false}]}]}
JSON
  start credit_slow "$credit_server_bin" --token "$slow_token" --port 0 --seed "$tmp/slow_seed.json" --log-level warn
  local credit_slow_port=$port
  start slow_proxy python3 bench/slow_proxy.py --target "127.0.0.1:$credit_slow_port" --delay-ms 50
  start quickstart_slow env CREDIT_SERVICE_URL="http://127.0.0.1:$port" CREDIT_API_TOKEN="$slow_token" "$quickstart_beast_bin" --port 0
  local slow_url=http://127.0.0.1:$port
  probe slow "$slow_url/api/simple" -H 'X-User-ID: bench-user'
  echo "  one lock takes >= 50 ms: a loop that waited on it would serve at most 20 req/s at any concurrency"
  for c in 1 8 32; do
    run "slow_c$c" slow "$c" "$slow_url/api/simple" -H 'X-User-ID: bench-user'
  done
  report scaling slow
  sleep 1
  report money slow 1000000000 1 "$(curl -s "$slow_url/api/test/balance?user_id=bench-user" | python3 -c 'import json, sys; print(json.load(sys.stdin)["balance"])')" || money_ok=0
}

money_ok=1
if [ "${TOLLGATE_BENCH_ONLY:-}" = event-loop ]; then
  echo "tollgate benchmarks, event-loop sections: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- include examples bench || echo '+local changes'), $(nproc) cores, g++ Release, $pairs pairs of ${duration} wrk runs (-t2)"
  event_loop_sections
  echo
  if [ "$money_ok" = 1 ]; then echo "money checks: all OK"; exit 0; else echo "money checks: MISMATCH (see above)"; exit 1; fi
fi

echo "tollgate benchmarks: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- include examples bench || echo '+local changes'), $(nproc) cores, g++ Release, $pairs pairs of ${duration} wrk runs (-t2)"

# --- (a) microbenchmarks ----------------------------------------------------------------------------
echo
echo "== (a) microbenchmarks (Google Benchmark, 5 repetitions, medians) =="
# Repetitions of different benchmarks interleave at random, so each ratio below pairs runs made
# side by side in time (repetition i of one with repetition i of the other).
"$micro_bin" --benchmark_repetitions="$((2 * pairs))" --benchmark_enable_random_interleaving=true \
  --benchmark_format=json --benchmark_out="$tmp/micro.json" --benchmark_out_format=json >/dev/null
report micro "$tmp/micro.json"

# --- (b) the HTTP bench server: the same handler metered and bare, on the embedded memory ledger ---
echo
echo "== (b) bench server, embedded memory ledger: /metered vs /plain, then with metrics on, 8 connections =="
start bench_server "$bench_server_bin"
bench_url=http://127.0.0.1:$port
probe bench "$bench_url/metered" -H 'X-User-ID: bench-user'
echo "  listen backlog (ss Send-Q): $(backlog "$bench_url")"
alternate metered bench "$bench_url/metered" 'X-User-ID: bench-user' plain plain "$bench_url/plain" '' 8
report compare "metered / plain" metered plain
# Metrics on (the shipped defaults: every outcome and credit counted, ledger latency sampled 1 in 16)
# against metered without them: the issue asks for the overhead unchanged within noise.
alternate metered_metrics bench "$bench_url/metered-metrics" 'X-User-ID: bench-user' metered_again bench "$bench_url/metered" 'X-User-ID: bench-user' 8
report compare "metered with metrics / metered" metered_metrics metered_again
sleep 0.5
report money bench 1000000000 0.001 "$(curl -s "$bench_url/balance")" || money_ok=0

# --- (c) quickstart on its embedded ledger ----------------------------------------------------------
echo
echo "== (c) quickstart on its embedded ledger: not run =="
echo "  its demo users hold 100 credits at 1 credit per /api/simple: they run dry in a fraction of a"
echo "  second; (b) measures metering on the embedded ledger, (d) the quickstart itself."

# --- the credit-service stacks: a credit server (memory / --state) and a quickstart in front of each -
token=bench-token-$RANDOM$RANDOM
start_balance=1000000000
cat >"$tmp/seed.json" <<JSON
{"users": [{"user_id": "bench-user", "balance": $start_balance, "credentials": [{"key": "bench-user", "is_public": false}]}]}
JSON
start credit_memory "$credit_server_bin" --token "$token" --port 0 --seed "$tmp/seed.json"
credit_memory_url=http://127.0.0.1:$port
# The --state variant is optional: without it (d) and (f) still run and (e) is reported as not run.
state_ok=0
if start credit_state "$credit_server_bin" --token "$token" --port 0 --seed "$tmp/seed.json" --state "$tmp/state.json"; then
  state_ok=1
  credit_state_url=http://127.0.0.1:$port
fi
start quickstart_memory env CREDIT_SERVICE_URL="$credit_memory_url" CREDIT_API_TOKEN="$token" "$quickstart_bin" --port 0
quick_memory_url=http://127.0.0.1:$port
if [ "$state_ok" = 1 ]; then
  start quickstart_state env CREDIT_SERVICE_URL="$credit_state_url" CREDIT_API_TOKEN="$token" "$quickstart_bin" --port 0
  quick_state_url=http://127.0.0.1:$port
fi
probe memory "$quick_memory_url/api/simple" -H 'X-User-ID: bench-user'
[ "$state_ok" = 0 ] || probe state "$quick_state_url/api/simple" -H 'X-User-ID: bench-user'
probe health "$quick_memory_url/health"
echo
echo "  listen backlog (ss Send-Q): quickstart $(backlog "$quick_memory_url"), credit server $(backlog "$credit_memory_url")"

balance_of() {  # the user's available balance, as the quickstart reads it from its credit service
  curl -s "$1/api/test/balance?user_id=bench-user" | python3 -c 'import json, sys; print(json.load(sys.stdin)["balance"])'
}

echo
echo "== (d) quickstart -> credit server (memory): /api/simple vs quickstart /health =="
echo "  8 connections"
alternate simple memory "$quick_memory_url/api/simple" 'X-User-ID: bench-user' health health "$quick_memory_url/health" '' 8
report compare "/api/simple / /health, 8 connections" simple health
echo "  64 connections"
alternate simple64 memory "$quick_memory_url/api/simple" 'X-User-ID: bench-user' health64 health "$quick_memory_url/health" '' 64
report compare "/api/simple / /health, 64 connections" simple64 health64

echo
echo "== (e) credit server with --state FILE vs memory only, quickstart /api/simple, 8 connections =="
if [ "$state_ok" = 1 ]; then
  alternate state state "$quick_state_url/api/simple" 'X-User-ID: bench-user' memory_only memory "$quick_memory_url/api/simple" 'X-User-ID: bench-user' 8
  report compare "state / memory" state memory_only 0.5
else
  echo "  not run: the credit server did not start with --state (see above)"
fi
sleep 1  # let the last settlements land
report money memory "$start_balance" 1 "$(balance_of "$quick_memory_url")" || money_ok=0
[ "$state_ok" = 0 ] || report money state "$start_balance" 1 "$(balance_of "$quick_state_url")" || money_ok=0

# --- (f) the billing endpoint with HS256 auth ------------------------------------------------------
echo
echo "== (f) billing: GET /billing/limits with a valid HS256 JWT vs /health, 8 connections =="
secret=bench-secret-$RANDOM$RANDOM$RANDOM
start billing env BILLING_JWT_SECRET="$secret" "$billing_bin" --port 0
billing_url=http://127.0.0.1:$port
# Minted here, independently of tollgate's signer: the claims the example's endpoint expects.
jwt=$(SECRET="$secret" python3 - <<'PY'
import base64, hashlib, hmac, json, os, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
body = b64(json.dumps({"ver": "1", "aud": "worker", "iat": now, "exp": now + 3600}, separators=(",", ":")).encode())
sig = b64(hmac.new(os.environ["SECRET"].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)
echo "$jwt" >"$tmp/jwt"
cat >"$tmp/billing.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $(cat "$tmp/jwt")"
wrk.headers["tenant-id"] = "org-456"
wrk.headers["x-plan-type"] = "growth"
LUA
probe billing "$billing_url/billing/limits" -H "Authorization: Bearer $jwt" -H 'tenant-id: org-456' -H 'x-plan-type: growth'
echo "  answer: $(cat "$tmp/probe.body")"
warm limits billing 8 "$billing_url/billing/limits" -s "$tmp/billing.lua"
warm billing_health health 8 "$billing_url/health"
for _ in $(seq "$pairs"); do
  run limits billing 8 "$billing_url/billing/limits" -s "$tmp/billing.lua"
  run billing_health health 8 "$billing_url/health"
done
report compare "/billing/limits / /health" limits billing_health

# --- (g) the Redis ledger ------------------------------------------------------------------------------
echo
echo "== (g) Redis ledger (redis-server $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p'), default settings, on this machine) =="
redis_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --dir "$tmp" --logfile "$tmp/redis.log" --daemonize no &
pids+=("$!")
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis_url=redis://127.0.0.1:$redis_port
calls() {  # client commands Redis executed (commandstats also counts the calls scripts make inside)
  redis-cli -p "$redis_port" info commandstats | python3 -c '
import re, sys
text = sys.stdin.read()
print(sum(int(m.group(2)) for m in re.finditer(r"cmdstat_(evalsha|eval|hmget|get|set|ping|scan):calls=(\d+)", text)))'
}
mapfile -t lock_command < <("$redis_bench_bin" --url "$redis_url" --print-lock-command)
echo "  lock+settle pairs from 8 threads (redis_ledger, 2 script calls a pair) vs redis-benchmark -c 8 running"
echo "  the same lock script with EVALSHA; A B A B, script calls per second"
seconds=${duration%s}
ratio_values=()
for _ in $(seq "$pairs"); do
  ours=$("$redis_bench_bin" --url "$redis_url" --threads 8 --seconds "$seconds" | awk '/^script_calls_per_second/ {print $2}')
  theirs=$(redis-benchmark -p "$redis_port" -c 8 -n 200000 -r 1000000000 --csv "${lock_command[@]}" | tail -1 | cut -d, -f2 | tr -d '"')
  echo "    redis_ledger $ours calls/s, redis-benchmark $theirs calls/s"
  ratio_values+=("$ours" "$theirs")
done
report ratio "redis_ledger / redis-benchmark (EVALSHA lock script)" redis_ledger redis-benchmark 0.8 "${ratio_values[@]}"

echo
echo "  bench server /metered: on the Redis ledger vs on the memory ledger, 8 connections"
start bench_redis "$bench_server_bin" --redis "$redis_url"
bench_redis_url=http://127.0.0.1:$port
probe redis "$bench_redis_url/metered" -H 'X-User-ID: bench-user'
before=$(calls)
lines_before=$(wc -l <"$results")
alternate redis_metered redis "$bench_redis_url/metered" 'X-User-ID: bench-user' memory_metered bench "$bench_url/metered" 'X-User-ID: bench-user' 8
report compare "metered on Redis / metered on memory" redis_metered memory_metered
sleep 0.5
after=$(calls)
report round_trips redis "$lines_before" "$((after - before))"
report money redis 1000000000 0.001 "$(curl -s "$bench_redis_url/balance")" || money_ok=0

event_loop_sections

echo
status=0
if [ "$money_ok" = 1 ]; then echo "money checks: all OK"; else echo "money checks: MISMATCH (see above)"; status=1; fi
[ "$state_ok" = 1 ] || { echo "incomplete: (e) did not run"; status=1; }
exit $status
