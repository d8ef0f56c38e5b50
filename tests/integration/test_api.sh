#!/usr/bin/env bash
# test_api: chat and completions, streamed and not, models, errors, stats, through
# client -> proxy -> worker -> backend on loopback with real TLS.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

start_backend b1 --chunks 5 --chunk-bytes 8
start_proxy proxy
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
PURL=$(ready_get "$WORK/proxy.ready" http_url)
start_worker w1 "$PADDR" "$BACKEND_URL_b1" --coefficient 1500
start_client client "$CADDR"
URL=$(ready_get "$WORK/client.ready" http_url)
WURL=$(ready_get "$WORK/w1.ready" http_url)

models_ok() { curl -sf "$URL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 models_ok || fail "model never listed by the client"
pass "/v1/models lists the worker's model"
http GET "$URL/v1/models"
echo "$HTTP_BODY" | grep -q '"coefficient":1500' || fail "models: no worker coefficient: $HTTP_BODY"

CHAT='{"model":"test-model","messages":[{"role":"user","content":"hello there, sea"}]}'
http POST "$URL/v1/chat/completions" "$CHAT"
[ "$HTTP_STATUS" = 200 ] || fail "chat: status $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q '"object":"chat.completion"' || fail "chat: body $HTTP_BODY"
echo "$HTTP_BODY" | grep -q '"content":"aaaaaaaabbbbbbbbccccccccddddddddeeeeeeee"' || fail "chat: content $HTTP_BODY"
echo "$HTTP_BODY" | grep -q '"completion_tokens":5' || fail "chat: usage $HTTP_BODY"
pass "non-streamed chat"

SCHAT='{"model":"test-model","stream":true,"messages":[{"role":"user","content":"hello there, sea"}]}'
http POST "$URL/v1/chat/completions" "$SCHAT"
[ "$HTTP_STATUS" = 200 ] || fail "stream chat: status $HTTP_STATUS"
[ "$(echo "$HTTP_BODY" | grep -c '^data: {.*chat.completion.chunk')" -ge 5 ] || fail "stream chat: chunks $HTTP_BODY"
echo "$HTTP_BODY" | grep -q '^data: \[DONE\]' || fail "stream chat: no [DONE]"
# include_usage is forced on by the worker, so the stream ends with a usage chunk.
echo "$HTTP_BODY" | grep -q '"usage":{[^}]*"completion_tokens":5' || fail "stream chat: no usage $HTTP_BODY"
pass "streamed chat with usage"

http POST "$URL/v1/completions" '{"model":"test-model","prompt":"once upon a time","max_tokens":3}'
[ "$HTTP_STATUS" = 200 ] || fail "completion: status $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q '"object":"text_completion"' || fail "completion: $HTTP_BODY"
echo "$HTTP_BODY" | grep -q '"completion_tokens":3' || fail "completion: max_tokens not applied $HTTP_BODY"
pass "non-streamed completion"

http POST "$URL/v1/completions" '{"model":"test-model","prompt":"once upon a time","stream":true}'
[ "$HTTP_STATUS" = 200 ] || fail "stream completion: status $HTTP_STATUS"
echo "$HTTP_BODY" | grep -q '^data: \[DONE\]' || fail "stream completion: $HTTP_BODY"
pass "streamed completion"

# Worker stats saw the usage of streamed answers (COCOON bills 0 for SSE; we must not).
WJ=$(curl -sf "$WURL/jsonstats")
echo "$WJ" | grep -qE '"tokens_completion_total":(1[0-9]|[2-9][0-9])' || fail "worker did not count streamed usage: $WJ"
pass "worker counts tokens of streamed answers"

http POST "$URL/v1/chat/completions" '{"model":"test-model","messages":[}'
[ "$HTTP_STATUS" = 400 ] || fail "bad json: status $HTTP_STATUS"
echo "$HTTP_BODY" | grep -q 'invalid_request_error' || fail "bad json: $HTTP_BODY"
pass "malformed JSON gets 400: $(echo "$HTTP_BODY" | head -c 160)"

http POST "$URL/v1/chat/completions" '{"model":"test-model","max_coefficient":-1,"messages":[]}'
[ "$HTTP_STATUS" = 400 ] || fail "bad max_coefficient: $HTTP_STATUS"
echo "$HTTP_BODY" | grep -q "max_coefficient" || fail "bad max_coefficient message: $HTTP_BODY"
pass "bad client field gets 400 naming it"

http POST "$URL/v1/chat/completions" '{"model":"test-model","tools":[],"messages":[{"role":"user","content":"x"}]}'
[ "$HTTP_STATUS" = 400 ] || fail "unknown option: status $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q "tools" || fail "unknown option message: $HTTP_BODY"
pass "field refused by the worker gets 400: $(echo "$HTTP_BODY" | head -c 160)"

http POST "$URL/v1/chat/completions" '{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}'
[ "$HTTP_STATUS" = 404 ] || fail "unknown model: status $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q "no-such-model" || fail "unknown model message: $HTTP_BODY"
pass "unknown model gets 404"

http POST "$URL/v1/chat/completions" '{"model":"test-model","max_coefficient":1000,"messages":[{"role":"user","content":"x"}]}'
[ "$HTTP_STATUS" = 503 ] || fail "coefficient: status $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q "coefficient=1500" || fail "coefficient message: $HTTP_BODY"
pass "max_coefficient below every worker gets 503 naming the coefficient"

http GET "$URL/v1/chat/completions"
[ "$HTTP_STATUS" = 405 ] || fail "GET chat: $HTTP_STATUS"
http GET "$URL/v1/nothing"
[ "$HTTP_STATUS" = 404 ] || fail "unknown path: $HTTP_STATUS"
pass "wrong method and unknown path"

for u in "$URL" "$PURL" "$WURL"; do
  curl -sf "$u/metrics" | grep -q '^cocoon_requests_total' || fail "$u/metrics"
  curl -sf "$u/jsonstats" | grep -q '"requests_total"' || fail "$u/jsonstats"
  curl -sf "$u/stats" | grep -q '<table>' || fail "$u/stats"
done
curl -sf "$PURL/jsonstats" | grep -q '"policy":"any"' || fail "proxy jsonstats lacks peer identity"
pass "stats endpoints on all three daemons"

# Logs never carry prompts or answers.
if grep -q -e "hello there" -e "aaaaaaaabbbb" -e "once upon" "$WORK"/*.log; then fail "payload in logs"; fi
pass "no payload in logs"

# Billing: every request above was recorded; the totals follow COCOON's formula at the default
# prices (2 nano-TON per token to the client, 1 to the worker, coefficient 1.5x here).
PJ=$(curl -sf "$PURL/jsonstats")
billed=$(echo "$PJ" | grep -o '"billing":{"requests":[0-9]*' | grep -o '[0-9]*$')
charged=$(echo "$PJ" | grep -o '"client_charged":[0-9]*' | grep -o '[0-9]*$')
earned=$(echo "$PJ" | grep -o '"worker_earned":[0-9]*' | grep -o '[0-9]*$')
[ "${billed:-0}" -ge 4 ] || fail "requests not billed: $PJ"
[ "${charged:-0}" -gt 0 ] && [ "$charged" -eq $((2 * earned)) ] || fail "charge/earning mismatch: $PJ"
pass "requests billed: $billed, client charged $charged nano-TON, worker earned $earned"

# Signed payments: after each committed request the client holds a proxy-signed charge and the
# worker a signed payout for the same cumulative adjusted tokens (verified by both).
# Totals are re-signed at most once per payment_interval_ms (1 s): wait for the last one.
signed_ok() {
  ctok=$(curl -sf "$URL/jsonstats" | grep -o '"signed_charge_tokens":[0-9]*' | grep -o '[0-9]*$')
  wtok=$(curl -sf "$WURL/jsonstats" | grep -o '"signed_payout_tokens":[0-9]*' | grep -o '[0-9]*$')
  [ "${ctok:-0}" -gt 0 ] && [ "$ctok" = "$wtok" ] && [ "$ctok" -eq $((charged / 2)) ]
}
wait_until 5 signed_ok || fail "signed payments: client $ctok, worker $wtok, charged $charged"
pass "client holds a signed charge and the worker a signed payout for $ctok tokens"

# The ledger survives the proxy and verifies with the proxy's key.
kill "$PID_proxy"; wait "$PID_proxy" 2>/dev/null || true
"$COCOON" ledger verify "$WORK/proxy-keys/ledger.db" --key-file "$WORK/proxy-keys/key.pem" >"$WORK/verify.out" 2>&1 \
  || fail "ledger verify: $(cat "$WORK/verify.out")"
pass "ledger verifies: $(tail -1 "$WORK/verify.out")"
