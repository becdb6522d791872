#!/usr/bin/env bash
# Installs what is missing, builds the quickstart, starts it on the in-process ledger and walks
# through its endpoints, showing each response, what it cost, and the balance left.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DTOLLGATE_BUILD_TESTS=OFF >/dev/null
cmake --build build/demo --target tollgate_quickstart -j "$(nproc)"

log=$(mktemp)
build/demo/examples/tollgate_quickstart --port 0 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q '^listening on' "$log" && break; sleep 0.05; done
base="http://$(sed -n 's/^listening on //p' "$log" | head -1)"
echo "quickstart is $(head -1 "$log") (in-process ledger; test-user-1..3 have 100 credits)"

balance() { curl -s "$base/api/test/balance?user_id=$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["balance"])'; }
charge() { python3 -c "from decimal import Decimal as D; print(format((D('$1') - D('$2')).normalize(), 'f'))"; }

call() {  # call "what" user curl-args...
  local what=$1 user=$2; shift 2
  local before after body
  before=$(balance "$user")
  body=$(curl -s -w ' [HTTP %{http_code}]' -H "X-User-ID: $user" "$@")
  sleep 0.05  # a stream's lock settles just after its last chunk is sent
  after=$(balance "$user")
  printf '\n%s\n  -> %.160s\n  charged %s, balance %s -> %s\n' "$what" "$body" "$(charge "$before" "$after")" "$before" "$after"
}

call "GET /api/simple (fixed 1.0)" test-user-1 "$base/api/simple"
call "POST /api/data {\"size\": 1000} (lock 5.0; 0.5 + 0.1/KB of the body sent)" test-user-1 \
  -X POST -H 'Content-Type: application/json' -d '{"size": 1000}' "$base/api/data"
call "POST /api/process?duration=0.5 (lock 10.0; 1.0 + 2.0/s, timed by tollgate)" test-user-1 \
  -X POST -d '' "$base/api/process?duration=0.5"
call "POST /api/advanced (custom calculator: size + time + 0.5 on errors)" test-user-1 \
  -X POST -d '' "$base/api/advanced"
call "POST /api/advanced?fail=1 (the 0.5 error penalty applies)" test-user-1 \
  -X POST -d '' "$base/api/advanced?fail=1"
call "GET /api/stream?tokens=20 (streamed; 0.15/M prompt + 0.45/M completion tokens, settled after the last chunk)" test-user-2 \
  -N "$base/api/stream?tokens=20"
call "POST /api/data with a bad body (the handler waives the charge)" test-user-1 \
  -X POST -H 'Content-Type: application/json' -d '{}' "$base/api/data"

printf '\nGET /api/simple without X-User-ID (no id: 401, nothing locked)\n  -> %s\n' \
  "$(curl -s -w ' [HTTP %{http_code}]' "$base/api/simple")"
printf '\nGET /api/simple as an unknown user (404, the handler never runs)\n  -> %s\n' \
  "$(curl -s -w ' [HTTP %{http_code}]' -H 'X-User-ID: nobody' "$base/api/simple")"

printf '\nSpending test-user-3 down to zero with /api/simple ...\n'
for _ in $(seq 100); do curl -s -o /dev/null -H 'X-User-ID: test-user-3' "$base/api/simple"; done
printf 'GET /api/simple with an empty balance (402, not served, not charged)\n  -> %s\n  balance %s\n' \
  "$(curl -s -w ' [HTTP %{http_code}]' -H 'X-User-ID: test-user-3' "$base/api/simple")" "$(balance test-user-3)"

printf '\nFinal balances: test-user-1 %s, test-user-2 %s, test-user-3 %s\n' \
  "$(balance test-user-1)" "$(balance test-user-2)" "$(balance test-user-3)"
echo "Server log, first and last lines (ids appear only as «redacted:…» fingerprints):"
sed -n '2,9p' "$log" | sed 's/^/  /'
echo "  ..."
tail -n 3 "$log" | sed 's/^/  /'
