#!/usr/bin/env bash
# test_settle: the client's account operations (/request/topup|withdraw|charge|close) applied by
# the proxy's local settlement backend with the client contract's rules, balances in /jsonstats,
# and a ledger that verifies afterwards.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

jnum() { echo "$1" | grep -o "\"$2\":[0-9-]*" | head -1 | cut -d: -f2; }
start_backend b1 --chunks 3
start_proxy proxy --local-client-credit 0 --min-client-stake 100000 --client-delay-before-close 1 \
  --payment-interval-ms 0
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
COWNER=0:3333333333333333333333333333333333333333333333333333333333333333
start_worker w1 "$PADDR" "$BACKEND_URL_b1" --owner-address 0:4444444444444444444444444444444444444444444444444444444444444444
start_client client "$CADDR" --owner-address "$COWNER"
URL=$(ready_get "$WORK/client.ready" http_url)
models_ok() { curl -sf "$URL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 models_ok || fail "model never listed"
BODY='{"model":"test-model","max_tokens":20,"max_coefficient":1000,"messages":[{"role":"user","content":"x"}]}'

# No credit at all: 402, and the status read says there is no account yet.
http POST "$URL/v1/chat/completions" "$BODY"
[ "$HTTP_STATUS" = 402 ] || fail "no credit: $HTTP_STATUS $HTTP_BODY"
http GET "$URL/request/status?proxy=$CADDR"
[ "$HTTP_STATUS" = 409 ] && echo "$HTTP_BODY" | grep -q 'no account' || fail "status without account: $HTTP_STATUS $HTTP_BODY"
http GET "$URL/request/topup?proxy=nowhere:1"
[ "$HTTP_STATUS" = 404 ] || fail "unknown proxy: $HTTP_STATUS"
http GET "$URL/request/topup?proxy=$CADDR&amount=-5"
[ "$HTTP_STATUS" = 400 ] || fail "negative amount: $HTTP_STATUS"

# Top-up: one stake by default, then an amount.
http GET "$URL/request/topup?proxy=$CADDR"
[ "$HTTP_STATUS" = 200 ] || fail "topup: $HTTP_STATUS $HTTP_BODY"
[ "$(jnum "$HTTP_BODY" moved)" = 100000 ] && [ "$(jnum "$HTTP_BODY" stake)" = 100000 ] || fail "topup answer: $HTTP_BODY"
http GET "$URL/request/topup?proxy=$CADDR&amount=50000"
[ "$(jnum "$HTTP_BODY" balance)" = 150000 ] || fail "second topup: $HTTP_BODY"
pass "top-ups: $HTTP_BODY"

for i in 1 2 3; do
  http POST "$URL/v1/chat/completions" "$BODY"
  [ "$HTTP_STATUS" = 200 ] || fail "request after topup: $HTTP_STATUS $HTTP_BODY"
done
# Balances reach /jsonstats (refreshed every 2 s); wait for a snapshot taken after the last
# request, when the signed charge the client holds covers every token used.
settled() {
  J=$(curl -sf "$URL/jsonstats")
  local u s
  u=$(jnum "$J" tokens_used); s=$(jnum "$J" signed_charge_tokens)
  [ -n "$u" ] && [ "$u" -gt 0 ] && [ "$u" = "$s" ]
}
wait_until 15 settled || fail "no settled balances in the client's /jsonstats: $(curl -sf "$URL/jsonstats")"
settled
bal=$(jnum "$J" balance); used=$(jnum "$J" tokens_used)
[ "$bal" -lt 150000 ] || fail "requests were not charged: $J"
[ $((150000 - bal)) = $((used * 2)) ] || fail "balance $bal does not match $used tokens at 2 nano-TON"
pass "client /jsonstats: balance $bal after $used adjusted tokens"

# Withdraw keeps the stake.
http GET "$URL/request/withdraw?proxy=$CADDR"
[ "$HTTP_STATUS" = 200 ] || fail "withdraw: $HTTP_STATUS $HTTP_BODY"
[ "$(jnum "$HTTP_BODY" balance)" = 100000 ] || fail "withdraw must leave the stake: $HTTP_BODY"
http GET "$URL/request/withdraw?proxy=$CADDR"
[ "$HTTP_STATUS" = 409 ] && echo "$HTTP_BODY" | grep -q 'nothing to withdraw' || fail "second withdraw: $HTTP_STATUS $HTTP_BODY"
pass "withdraw refunded $(( bal - 100000 )), the stake stays"

# Charge commits the signed total once; a second charge of the same total is an old message.
http GET "$URL/request/charge?proxy=$CADDR"
[ "$HTTP_STATUS" = 200 ] && [ "$(jnum "$HTTP_BODY" charged_tokens)" = "$used" ] || fail "charge: $HTTP_STATUS $HTTP_BODY"
http GET "$URL/request/charge?proxy=$CADDR"
[ "$HTTP_STATUS" = 409 ] && echo "$HTTP_BODY" | grep -q 'old message' || fail "repeated charge: $HTTP_STATUS $HTTP_BODY"
pass "charge committed $used tokens"

# Close: closing now (nothing above the stake left), no new requests, the stake after the delay.
http GET "$URL/request/close?proxy=$CADDR"
[ "$HTTP_STATUS" = 200 ] && echo "$HTTP_BODY" | grep -q '"state":"closing"' || fail "close: $HTTP_STATUS $HTTP_BODY"
http POST "$URL/v1/chat/completions" "$BODY"
[ "$HTTP_STATUS" = 402 ] && echo "$HTTP_BODY" | grep -q closing || fail "request while closing: $HTTP_STATUS $HTTP_BODY"
http GET "$URL/request/topup?proxy=$CADDR"
[ "$HTTP_STATUS" = 409 ] || fail "topup while closing: $HTTP_STATUS $HTTP_BODY"
unlocked() { http GET "$URL/request/close?proxy=$CADDR"; [ "$HTTP_STATUS" = 200 ]; }
wait_until 10 unlocked || fail "close after the delay: $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q '"state":"closed"' && [ "$(jnum "$HTTP_BODY" balance)" = 0 ] \
  && [ "$(jnum "$HTTP_BODY" moved)" = -100000 ] || fail "final close: $HTTP_BODY"
pass "close: closing, then the stake refunded after the delay: $HTTP_BODY"

kill "$PID_proxy"; wait "$PID_proxy" 2>/dev/null || true
pkey="$WORK/proxy-keys"
"$COCOON" ledger verify "$pkey/ledger.db" --key-file "$pkey/key.pem" >"$WORK/verify.out" 2>&1 \
  || fail "ledger verify: $(cat "$WORK/verify.out")"
pass "ledger verifies: $(head -3 "$WORK/verify.out" | tr '\n' ' ')"
