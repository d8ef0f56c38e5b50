#!/usr/bin/env bash
# test_handshake: peers the proxy must refuse (wrong secret, test-mode mismatch), PoW limits,
# and the reconnect of clients and workers after a proxy restart.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

start_backend b1 --chunks 3
start_proxy proxy --client-secret s3cret
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
PURL=$(ready_get "$WORK/proxy.ready" http_url)

# A client with the wrong secret never becomes ready and says why.
start_client bad "$CADDR" --secret wrong
BURL=$(ready_get "$WORK/bad.ready" http_url)
secret_err() { curl -sf "$BURL/jsonstats" | grep -q 'secret'; }
wait_until 10 secret_err || fail "wrong secret not reported: $(curl -s "$BURL/jsonstats")"
http POST "$BURL/v1/chat/completions" '{"model":"test-model","messages":[{"role":"user","content":"x"}]}'
[ "$HTTP_STATUS" = 503 ] || fail "wrong secret: status $HTTP_STATUS"
echo "$HTTP_BODY" | grep -q "secret" || fail "wrong secret: message $HTTP_BODY"
pass "client with the wrong secret is refused: $(echo "$HTTP_BODY" | head -c 200)"

# A worker in production mode is refused by a test-mode proxy.
start_worker prod "$PADDR" "$BACKEND_URL_b1" --is-test false
PRODURL=$(ready_get "$WORK/prod.ready" http_url)
mismatch() { grep -q 'test mode mismatch' "$WORK/proxy.log"; }
wait_until 10 mismatch || fail "test-mode mismatch not refused"
curl -sf "$PRODURL/jsonstats" | grep -q '"state":"ready"' && fail "mismatched worker became ready"
pass "worker with is_test=false refused by a test proxy"

# A client refuses a proof of work above its maximum.
start_client picky "$CADDR" --secret s3cret --pow-max-difficulty 4
PICKY=$(ready_get "$WORK/picky.ready" http_url)
pow_refused() { curl -sf "$PICKY/jsonstats" | grep -qi 'difficulty'; }
wait_until 10 pow_refused || fail "PoW above max not refused: $(curl -s "$PICKY/jsonstats")"
pass "client refuses a PoW difficulty above its maximum"

# Good peers work; after a proxy restart on the same ports both reconnect by themselves.
start_worker w1 "$PADDR" "$BACKEND_URL_b1"
start_client good "$CADDR" --secret s3cret
GURL=$(ready_get "$WORK/good.ready" http_url)
models_ok() { curl -sf "$GURL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 15 models_ok || fail "good client never saw the model"
http POST "$GURL/v1/chat/completions" '{"model":"test-model","messages":[{"role":"user","content":"x"}]}'
[ "$HTTP_STATUS" = 200 ] || fail "good client: $HTTP_STATUS $HTTP_BODY"
pass "client with the right secret is served"

kill -9 "$PID_proxy"
sleep 0.5
WPORT=${PADDR##*:}; CPORT=${CADDR##*:}
start_proxy proxy2 --client-secret s3cret --worker-listen "127.0.0.1:$WPORT" --client-listen "127.0.0.1:$CPORT"
wait_until 20 models_ok || fail "client/worker did not reconnect after the proxy restart"
http POST "$GURL/v1/chat/completions" '{"model":"test-model","messages":[{"role":"user","content":"x"}]}'
[ "$HTTP_STATUS" = 200 ] || fail "after restart: $HTTP_STATUS $HTTP_BODY"
pass "client and worker reconnect after the proxy is killed and restarted"
