#!/usr/bin/env bash
# README's billing walkthrough, run for real: create deployments until the free plan refuses, switch
# the tenant to "growth" with a signed Stripe webhook, and the new limit applies to the next create.
# Every answer is checked; ctest runs it as billing_walkthrough.
#
#   examples/billing_limits/walkthrough.sh [path/to/tollgate_billing_limits]
set -euo pipefail
binary=${1:-build/examples/billing_limits/tollgate_billing_limits}
jwt_secret=walkthrough-jwt-secret
webhook_secret=whsec_walkthrough

# 1. The example on a free port, with a JWT secret and a Stripe webhook secret.
out=$(mktemp)
STRIPE_WEBHOOK_SECRET=$webhook_secret "$binary" --port 0 --secret "$jwt_secret" >"$out" 2>/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
url=http://$(sed -n 's/^listening on //p' "$out")
token=$("$binary" --secret "$jwt_secret" --print-token)
as_org=(-H "Authorization: Bearer $token" -H "tenant-id: org-1")

expect() {  # expect STATUS BODY-PART -- curl arguments: runs curl, checks the status and a part of the body
  local status=$1 part=$2
  shift 3
  local answer
  answer=$(curl -s -w ' %{http_code}' "$@")
  echo "  $answer"
  [[ "$answer" == *" $status" && "$answer" == *"$part"* ]] || { echo "expected $status with '$part'" >&2; exit 1; }
}

echo "2. The free plan allows one deployment: the second create is refused, its handler never runs"
expect 201 '"id"' -- "${as_org[@]}" --json '{"name":"web"}' "$url/deployments"
expect 403 'Plan limit reached' -- "${as_org[@]}" --json '{"name":"api"}' "$url/deployments"
expect 200 '"deployments":{"used":1,"limit":1,"remaining":0}' -- "${as_org[@]}" "$url/billing/usage"

echo "3. The billing provider's signed event moves org-1 to growth (signed as Stripe signs it)"
now=$(date +%s)
event='{"id":"evt_walk_1","created":'$now',"type":"customer.subscription.updated","data":{"object":{"metadata":{"tenant_id":"org-1","plan":"growth"}}}}'
signature=$(printf '%s.%s' "$now" "$event" | openssl dgst -sha256 -hmac "$webhook_secret" | sed 's/^.* //')
expect 200 '"status":"applied"' -- -H "Stripe-Signature: t=$now,v1=$signature" --json "$event" "$url/billing/webhooks/stripe"
expect 400 '"detail"' -- -H "Stripe-Signature: t=$now,v1=${signature/a/b}0" --json "$event" "$url/billing/webhooks/stripe"

echo "4. The new limit applies to the very next create"
expect 201 '"id"' -- "${as_org[@]}" --json '{"name":"api"}' "$url/deployments"
expect 200 '"deployments":{"used":2,"limit":5,"remaining":3}' -- "${as_org[@]}" "$url/billing/usage"
expect 200 '"plan_type":"growth"' -- "${as_org[@]}" "$url/billing/limits"
echo "walkthrough: every step answered as expected"
