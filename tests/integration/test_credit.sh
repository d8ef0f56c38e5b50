#!/usr/bin/env bash
# test_credit: a client whose credit does not cover the reservation is refused with 402.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

start_backend b1 --chunks 3
start_proxy proxy --local-client-credit 1000
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
start_worker w1 "$PADDR" "$BACKEND_URL_b1"
start_client client "$CADDR"
URL=$(ready_get "$WORK/client.ready" http_url)
models_ok() { curl -sf "$URL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 models_ok || fail "model never listed"

# Reservation = (max_tokens + request bytes) x max_coefficient/1000 x price: 1000 tokens by
# default at 4.0x and 2 nano-TON is far above a credit of 1000 nano-TON.
http POST "$URL/v1/chat/completions" '{"model":"test-model","messages":[{"role":"user","content":"x"}]}'
[ "$HTTP_STATUS" = 402 ] || fail "low credit: status $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q "balance is too low" || fail "low credit message: $HTTP_BODY"
pass "reservation above the credit gets 402: $(echo "$HTTP_BODY" | head -c 160)"

# A small request fits: (10 + ~200 bytes) x 1.0 x 2 < 1000.
http POST "$URL/v1/chat/completions" '{"model":"test-model","max_tokens":10,"max_coefficient":1000,"messages":[{"role":"user","content":"x"}]}'
[ "$HTTP_STATUS" = 200 ] || fail "small request: $HTTP_STATUS $HTTP_BODY"
pass "a reservation within the credit is served"
