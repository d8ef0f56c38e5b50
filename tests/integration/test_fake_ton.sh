#!/usr/bin/env bash
# test_fake_ton: the proxy in COCOON's fake-TON mode (--fake-ton-config): it announces the proxy,
# worker and client contract addresses COCOON derives (checked against @ton/core), takes version
# and prices from the file, and our client and worker accept its signed payments for the derived
# contracts. Bad fake-TON settings stop the proxy with a message that names them.
# SPDX-License-Identifier: Apache-2.0
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
TONDIR=$(cd "$(dirname "$0")/../ton" && pwd)

# Code cells x{f00d} (proxy), x{beef} (worker), x{c0de} (client) as BoC hex (@ton/core toBoc).
PCODE=b5ee9c72410101010004000004f00d7ef5f53e
WCODE=b5ee9c72410101010004000004beef1d793237
CCODE=b5ee9c72410101010004000004c0dea2f538be
ROOT=EQBT4hy4vMEZ9uxSCuhw_gBKh9_AwmHXLe7Wo0O4Vh-4kRjJ
POWNER=0:1111111111111111111111111111111111111111111111111111111111111111
WOWNER=0:2222222222222222222222222222222222222222222222222222222222222222
COWNER=0:3333333333333333333333333333333333333333333333333333333333333333
cat >"$WORK/fake-ton.json" <<JSON
{ "proxy_hashes": [], "worker_hashes": [], "model_names": ["test-model"], "registered_proxies": [],
  "price_per_token": 3, "worker_fee_per_token": 2, "last_proxy_seqno": 0, "version": 5, "params_version": 1,
  "proxy_sc_code": "$PCODE", "worker_sc_code": "$WCODE", "client_sc_code": "$CCODE" }
JSON

# Refusals first: each names what is wrong.
refused() { # refused PATTERN ARGS...: the proxy must exit non-zero with PATTERN on stderr
  local pat=$1; shift
  if "$COCOON" proxy --worker-listen 127.0.0.1:0 --client-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
    --key-dir "$WORK/refused-keys" "$@" >"$WORK/refused.out" 2>&1; then fail "proxy started with $*"; fi
  grep -q -- "$pat" "$WORK/refused.out" || fail "no '$pat' in: $(tail -3 "$WORK/refused.out")"
}
refused "root_contract_address" --fake-ton-config "$WORK/fake-ton.json" --owner-address "$POWNER"
refused "owner_address" --fake-ton-config "$WORK/fake-ton.json" --root-contract-address "$ROOT" --owner-address nope
printf '{"version": "5"}' >"$WORK/bad.json"
refused "version must be an integer" --fake-ton-config "$WORK/bad.json" --root-contract-address "$ROOT" --owner-address "$POWNER"
refused "cannot open" --fake-ton-config "$WORK/missing.json" --root-contract-address "$ROOT" --owner-address "$POWNER"
refused "settlement local" --fake-ton-config "$WORK/fake-ton.json" --root-contract-address "$ROOT" \
  --owner-address "$POWNER" --settlement ton
pass "bad fake-TON settings are refused with a message that names them"

start_backend be
start_proxy proxy --fake-ton-config "$WORK/fake-ton.json" --root-contract-address "$ROOT" --owner-address "$POWNER" \
  --payment-interval-ms 0
PA=$(ready_get "$WORK/proxy.ready" worker_addr)
PC=$(ready_get "$WORK/proxy.ready" client_addr)
PURL=$(ready_get "$WORK/proxy.ready" http_url)
start_worker w1 "$PA" "$BACKEND_URL_be" --owner-address "$WOWNER"
start_client client "$PC" --owner-address "$COWNER"
URL=$(ready_get "$WORK/client.ready" http_url)
WURL=$(ready_get "$WORK/w1.ready" http_url)
wait_until 20 bash -c "curl -sf $URL/v1/models | grep -q test-model" || fail "model not listed"

for i in 1 2 3; do
  http POST "$URL/v1/chat/completions" '{"model":"test-model","messages":[{"role":"user","content":"hi"}]}'
  [ "$HTTP_STATUS" = 200 ] || fail "chat $i: $HTTP_STATUS $HTTP_BODY"
done
pass "requests served in fake-TON mode"

PJ=$(curl -sf "$PURL/jsonstats")
echo "$PJ" | grep -q '"config_version":5' || fail "config version not taken from the file: $PJ"
echo "$PJ" | grep -q '"price_per_token":3,"worker_fee_per_token":2' || fail "prices not taken from the file: $PJ"
pass "version 5 and prices 3/2 come from the fake-TON file"

# Signed payments target the derived contracts: our client and worker accept them only for the
# contract address the proxy announced (or the owner's).
signed_ok() {
  ctok=$(curl -sf "$URL/jsonstats" | grep -o '"signed_charge_tokens":[0-9]*' | grep -o '[0-9]*$')
  wtok=$(curl -sf "$WURL/jsonstats" | grep -o '"signed_payout_tokens":[0-9]*' | grep -o '[0-9]*$')
  [ "${ctok:-0}" -gt 0 ] && [ "$ctok" = "$wtok" ]
}
wait_until 10 signed_ok || fail "signed payments not accepted: client ${ctok:-} worker ${wtok:-}"
pass "client and worker accept the payments signed for their derived contracts ($ctok tokens)"

if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node is not installed; the addresses are not checked against @ton/core"
  exit 0
fi
if [ ! -d "$TONDIR/node_modules/@ton/core" ]; then
  (cd "$TONDIR" && npm ci --no-audit --no-fund) >/dev/null || fail "npm ci failed in $TONDIR"
fi
KEY=$(sed -n 's/.*ev=node_identity role=proxy public_key=\([0-9a-f]*\).*/\1/p' "$WORK/proxy.log" | head -1)
[ ${#KEY} = 64 ] || fail "proxy key not in the log"
NODE_PATH=$TONDIR/node_modules node "$(dirname "$0")/fake_ton_expect.cjs" "$WORK/fake-ton.json" "$ROOT" "$POWNER" "$KEY" \
  "$WOWNER" "$COWNER" >"$WORK/expect.txt" || fail "expectation script failed"
PJ=$(curl -sf "$PURL/jsonstats")
got_proxy=$(echo "$PJ" | grep -o '"proxy_contract":"[^"]*"' | cut -d'"' -f4)
got_worker=$(echo "$PJ" | grep -o '"workers":\[{.*' | grep -o '"contract":"[^"]*"' | head -1 | cut -d'"' -f4)
got_client=$(echo "$PJ" | grep -o '"clients":\[{.*' | grep -o '"contract":"[^"]*"' | head -1 | cut -d'"' -f4)
client_seen=$(curl -sf "$URL/jsonstats" | grep -o '"proxy_address":"[^"]*"' | head -1 | cut -d'"' -f4)
cmp() { NODE_PATH=$TONDIR/node_modules node "$(dirname "$0")/fake_ton_expect.cjs" --cmp "$1" "$2"; }
for k in proxy worker client; do
  want=$(sed -n "s/^$k=//p" "$WORK/expect.txt")
  got=$(eval echo "\$got_$k")
  cmp "$want" "$got" || fail "$k contract: proxy announces '$got', @ton/core derives '$want'"
done
cmp "$got_proxy" "$client_seen" || fail "the client saw proxy_sc_address '$client_seen', not '$got_proxy'"
case $got_proxy in UQ*) ;; *) fail "proxy contract '$got_proxy' is not in COCOON's non-bounceable form (UQ...)";; esac
pass "announced contracts equal @ton/core's derivation: proxy $got_proxy, worker $got_worker, client $got_client"
