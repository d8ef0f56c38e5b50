#!/usr/bin/env bash
# test_retry: a client with two proxies sends a request that failed before its first answer byte
# (no worker on the first proxy, its worker or the proxy itself died) to the other proxy; never
# after an answer byte reached the app, never on a 400/402; the failed attempt costs nothing.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

OWNER=0:0000000000000000000000000000000000000000000000000000000000000000
start_backend bA --chunks 40 --chunk-bytes 8 --delay-ms 100
start_backend bB --chunks 3
start_proxy pA
start_proxy pB
A_WADDR=$(ready_get "$WORK/pA.ready" worker_addr)
A_CADDR=$(ready_get "$WORK/pA.ready" client_addr)
B_WADDR=$(ready_get "$WORK/pB.ready" worker_addr)
B_CADDR=$(ready_get "$WORK/pB.ready" client_addr)
A_URL=$(ready_get "$WORK/pA.ready" http_url)
B_URL=$(ready_get "$WORK/pB.ready" http_url)
start_worker wB "$B_WADDR" "$BACKEND_URL_bB"
# A is listed first: with both idle, the client's least-loaded pick takes A (ties keep the list
# order), so every sequential request tries A first. The log lines below check that it did.
start_client client "$A_CADDR,$B_CADDR"
start_client client0 "$A_CADDR,$B_CADDR" --retry-other-proxies 0
URL=$(ready_get "$WORK/client.ready" http_url)
URL0=$(ready_get "$WORK/client0.ready" http_url)

both_ready() { [ "$(curl -sf "$1/jsonstats" | grep -o '"state":"ready"' | wc -l)" -eq 2 ]; }
wait_until 20 both_ready "$URL" || fail "client not connected to both proxies"
wait_until 20 both_ready "$URL0" || fail "client0 not connected to both proxies"
has_worker() { curl -sf "$1/jsonstats" | grep -q '"enabled":true,"ready":true'; }
b_has_worker() { has_worker "$B_URL"; }
wait_until 20 b_has_worker || fail "worker never joined proxy B"
retries() { curl -sf "$URL/jsonstats" | grep -o '"retries":[0-9]*' | cut -d: -f2; }
log_retries() { grep -c "ev=request_retry .*from=$1 to=$2" "$WORK/client.log" || true; }

# (a) A has no worker for the model, B has one: every request is served through B.
SECRET=zebra-prompt-$RANDOM
BODY='{"model":"test-model","messages":[{"role":"user","content":"'$SECRET'"}]}'
N=12
for i in $(seq 1 $N); do
  http POST "$URL/v1/chat/completions" "$BODY"
  [ "$HTTP_STATUS" = 200 ] || fail "request $i: $HTTP_STATUS $HTTP_BODY"
done
[ "$(retries)" = "$N" ] || fail "retry counter $(retries), want $N"
[ "$(log_retries "$A_CADDR" "$B_CADDR")" = "$N" ] || fail "not every first attempt went to A: $(grep request_retry "$WORK/client.log" | head -3)"
grep "ev=request_retry" "$WORK/client.log" | head -1 | grep -q "reason=\"no worker serves model" || fail "retry reason: $(grep request_retry "$WORK/client.log" | head -1)"
curl -sf "$URL/metrics" | grep -q "^cocoon_client_retries_total{role=\"client\"} $N\$" || fail "metrics: $(curl -sf "$URL/metrics" | grep retries)"
curl -sf "$URL/jsonstats" | grep -q "\"retried_ok\":$N" || fail "retried_ok not $N"
pass "$N requests refused by A (no worker) all served by B; counter, metrics and log say $N retries"

http POST "$URL0/v1/chat/completions" "$BODY"
[ "$HTTP_STATUS" = 404 ] || fail "retry_other_proxies 0: $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q "no worker serves model" || fail "retry_other_proxies 0: not A's error: $HTTP_BODY"
grep -q "ev=request_retry" "$WORK/client0.log" && fail "client0 retried"
pass "with retry_other_proxies 0 the app gets A's error: $HTTP_STATUS"

# A model no proxy serves: both proxies are asked, the app gets the last 404.
http POST "$URL/v1/chat/completions" '{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}'
[ "$HTTP_STATUS" = 404 ] || fail "unknown model: $HTTP_STATUS $HTTP_BODY"
[ "$(retries)" = "$((N + 1))" ] || fail "unknown model: retry counter $(retries)"
pass "a model no proxy serves: 404 after trying both"

# (d) A 400 is not retried (and not even sent); a 402 from A is not retried although B would serve.
start_backend bC --chunks 3
start_proxy pC --local-client-credit 1000
start_worker wC "$(ready_get "$WORK/pC.ready" worker_addr)" "$BACKEND_URL_bC"
C_CADDR=$(ready_get "$WORK/pC.ready" client_addr)
start_client client2 "$C_CADDR,$B_CADDR"
URL2=$(ready_get "$WORK/client2.ready" http_url)
wait_until 20 both_ready "$URL2" || fail "client2 not connected to both proxies"
c_has_worker() { has_worker "$(ready_get "$WORK/pC.ready" http_url)"; }
wait_until 20 c_has_worker || fail "worker never joined proxy C"
for i in 1 2 3; do
  http POST "$URL2/v1/chat/completions" '{"model":"test-model","messages":[{"role":"user","content":"x"}]}'
  [ "$HTTP_STATUS" = 402 ] || fail "402 from C: $HTTP_STATUS $HTTP_BODY"
done
grep -q "ev=request_retry" "$WORK/client2.log" && fail "a 402 was retried"
# The same client is served by B when C has nothing to say about money: C's worker gone, C says 404.
kill "$PID_wC"
c_no_worker() { ! c_has_worker; }
wait_until 20 c_no_worker || fail "worker did not leave C"
http POST "$URL2/v1/chat/completions" '{"model":"test-model","messages":[{"role":"user","content":"x"}]}'
[ "$HTTP_STATUS" = 200 ] || fail "client2 through B: $HTTP_STATUS $HTTP_BODY"
pass "402 reaches the app unretried (B would have served: it does once C has no worker)"

# (b1) A's worker dies while the request waits for its backend: A answers "worker connection
# lost" before any byte, and B completes the request. A's ledger records the attempt failed, free.
start_worker wA "$A_WADDR" "$BACKEND_URL_bA"
a_has_worker() { has_worker "$A_URL"; }
wait_until 20 a_has_worker || fail "worker never joined proxy A"
# (d) A 400 from A's worker (a body it refuses) is not retried either.
before=$(retries)
b_req=$(curl -sf "$B_URL/jsonstats" | grep -o '"requests_total":[0-9]*' | head -1 | cut -d: -f2)
for i in 1 2 3; do
  http POST "$URL/v1/chat/completions" '{"model":"test-model","messages":"nope"}'
  [ "$HTTP_STATUS" = 400 ] || fail "bad request: $HTTP_STATUS $HTTP_BODY"
done
[ "$(retries)" = "$before" ] || fail "a 400 was retried"
[ "$(curl -sf "$B_URL/jsonstats" | grep -o '"requests_total":[0-9]*' | head -1 | cut -d: -f2)" = "$b_req" ] \
  || fail "B saw a copy of a 400"
pass "a 400 from A's worker reaches the app unretried"

a_busy() { curl -sf "$A_URL/jsonstats" | grep -q '"requests_active":1,'; }
# Not streamed: A's backend (40 chunks, 100 ms apart) answers after ~4 s, B's at once.
SLOW='{"model":"test-model","messages":[{"role":"user","content":"x"}]}'
b_before=$(curl -sf "$B_URL/jsonstats" | grep -o '"requests_success_total":[0-9]*' | head -1 | cut -d: -f2)
r_before=$(retries)
curl -sS -D "$WORK/b1.hdr" -o "$WORK/b1.out" -w '%{http_code}' -H 'Content-Type: application/json' -d "$SLOW" \
  "$URL/v1/chat/completions" >"$WORK/b1.code" 2>/dev/null &
cpid=$!
wait_until 10 a_busy || fail "request never reached A"
kill -9 "$PID_wA"
wait $cpid || true
[ "$(cat "$WORK/b1.code")" = 200 ] || fail "worker killed: status $(cat "$WORK/b1.code") $(cat "$WORK/b1.out")"
[ "$(retries)" = "$((r_before + 1))" ] || fail "worker killed: retry counter $(retries)"
grep "ev=request_retry" "$WORK/client.log" | tail -1 | grep -q "from=$A_CADDR to=$B_CADDR.*worker connection lost" \
  || fail "worker killed: $(grep request_retry "$WORK/client.log" | tail -1)"
b_after=$(curl -sf "$B_URL/jsonstats" | grep -o '"requests_success_total":[0-9]*' | head -1 | cut -d: -f2)
[ "$b_after" = "$((b_before + 1))" ] || fail "B did not serve it ($b_before -> $b_after)"
rid=$(sed -n 's/^X-Cocoon-Request-Id: *\([0-9a-f]*\).*/\1/Ip' "$WORK/b1.hdr")
[ ${#rid} = 64 ] || fail "no request id: $(cat "$WORK/b1.hdr")"
ledger_has() { "$COCOON" ledger ids "$WORK/$1-keys/ledger.db" | grep -q "^$2 $3\$"; }
wait_until 10 ledger_has pA "$rid" failed || fail "A's ledger: $("$COCOON" ledger ids "$WORK/pA-keys/ledger.db")"
wait_until 10 ledger_has pB "$rid" ok || fail "B's ledger lacks $rid"
"$COCOON" ledger show "$WORK/pA-keys/ledger.db" --client "$OWNER" --key-file "$WORK/pA-keys/key.pem" >"$WORK/ledA.out" 2>&1 \
  || fail "A's ledger does not verify: $(cat "$WORK/ledA.out")"
row=$(grep " ${rid:0:20} " "$WORK/ledA.out") || fail "no row for $rid: $(cat "$WORK/ledA.out")"
[ "$(awk '{print $11, $13}' <<<"$row")" = "0.000000000 failed" ] || fail "A charged the failed attempt: $row"
pass "worker on A killed before the first byte: B completed it; A's ledger: failed, charge 0"

# (b2) Proxy A itself is killed while the request waits: the link drops and B completes it.
start_worker wA2 "$A_WADDR" "$BACKEND_URL_bA"
wait_until 20 a_has_worker || fail "second worker never joined proxy A"
r_before=$(retries)
curl -sS -o "$WORK/b2.out" -w '%{http_code}' -H 'Content-Type: application/json' -d "$SLOW" \
  "$URL/v1/chat/completions" >"$WORK/b2.code" 2>/dev/null &
cpid=$!
wait_until 10 a_busy || fail "request never reached A"
kill -9 "$PID_pA"
wait "$PID_pA" 2>/dev/null || true
wait $cpid || true
[ "$(cat "$WORK/b2.code")" = 200 ] || fail "proxy killed: status $(cat "$WORK/b2.code") $(cat "$WORK/b2.out")"
grep -q '"choices"' "$WORK/b2.out" || fail "proxy killed: answer $(cat "$WORK/b2.out")"
[ "$(retries)" = "$((r_before + 1))" ] || fail "proxy killed: retry counter $(retries)"
grep "ev=request_retry" "$WORK/client.log" | tail -1 | grep -q "from=$A_CADDR to=$B_CADDR.*connection to the proxy was lost" \
  || fail "proxy killed: $(grep request_retry "$WORK/client.log" | tail -1)"
pass "proxy A killed before the first byte: B completed the request"

# (c) A streamed request whose proxy dies after the first chunk is not retried: the app gets
# the chunks so far, an SSE error event and a cut stream. A comes back on the same ports.
start pA "$COCOON" proxy --worker-listen "$A_WADDR" --client-listen "$A_CADDR" --http-listen 127.0.0.1:0 \
  --pow-difficulty 8 --key-dir "$WORK/pA-keys" --ready-file "$WORK/pA2.ready"
wait_ready "$WORK/pA2.ready"
A_URL=$(ready_get "$WORK/pA2.ready" http_url)
wait_until 30 a_has_worker || fail "worker did not rejoin the restarted proxy A"
wait_until 30 both_ready "$URL" || fail "client did not reconnect to A"
r_before=$(retries)
b_req=$(curl -sf "$B_URL/jsonstats" | grep -o '"requests_total":[0-9]*' | head -1 | cut -d: -f2)
STREAM='{"model":"test-model","stream":true,"messages":[{"role":"user","content":"x"}]}'
curl -sS -N -o "$WORK/c.out" -H 'Content-Type: application/json' -d "$STREAM" "$URL/v1/chat/completions" 2>/dev/null &
cpid=$!
got_chunk() { grep -q 'chat.completion.chunk' "$WORK/c.out"; }
wait_until 10 got_chunk || fail "no first chunk"
kill -9 "$PID_pA"
if wait $cpid; then curl_rc=0; else curl_rc=$?; fi
grep -q '^data: \[DONE\]' "$WORK/c.out" && fail "stream completed although its proxy died"
grep -q 'connection to the proxy was lost' "$WORK/c.out" || fail "no error event: $(tail -c 300 "$WORK/c.out")"
[ "$curl_rc" -ne 0 ] || fail "curl saw a complete response"
[ "$(retries)" = "$r_before" ] || fail "a started stream was retried"
b_req2=$(curl -sf "$B_URL/jsonstats" | grep -o '"requests_total":[0-9]*' | head -1 | cut -d: -f2)
[ "$b_req2" = "$b_req" ] || fail "B got a copy of the started stream ($b_req -> $b_req2)"
pass "stream cut after its first chunk: error event, cut stream (curl rc $curl_rc), no retry"

grep -q "$SECRET" "$WORK"/client*.log && fail "a prompt reached the client's log"
pass "no prompt text in the logs"
