#!/usr/bin/env bash
# test_failover: two workers share load; a worker killed mid-stream gives a clean error and the
# next request goes to the other; a backend that goes down disables its worker; capacity and
# timeouts fail cleanly.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

start_backend bA --chunks 40 --chunk-bytes 8 --delay-ms 50
start_backend bB --chunks 40 --chunk-bytes 8 --delay-ms 50
start_proxy proxy
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
PURL=$(ready_get "$WORK/proxy.ready" http_url)
start_worker wA "$PADDR" "$BACKEND_URL_bA" --coefficient 1000 --max-active-requests 2 --health-interval-ms 200
start_worker wB "$PADDR" "$BACKEND_URL_bB" --coefficient 2000 --max-active-requests 2 --health-interval-ms 200
start_client client "$CADDR"
URL=$(ready_get "$WORK/client.ready" http_url)

two_workers() { [ "$(curl -sf "$URL/v1/models" | grep -o '"coefficient"' | wc -l)" -eq 2 ]; }
wait_until 20 two_workers || fail "both workers never enabled"

BODY='{"model":"test-model","stream":true,"messages":[{"role":"user","content":"x"}]}'
# Four concurrent streams: least-loaded routing must use both workers.
pids=()
for i in 1 2 3 4; do curl -sf -N -o "$WORK/par$i.out" -H 'Content-Type: application/json' -d "$BODY" "$URL/v1/chat/completions" & pids+=($!); done
wait "${pids[@]}" || true
for i in 1 2 3 4; do grep -q '^data: \[DONE\]' "$WORK/par$i.out" || fail "parallel request $i incomplete"; done
PJ=$(curl -sf "$PURL/jsonstats")
n_used=$(echo "$PJ" | grep -o '"queries":[1-9][0-9]*' | wc -l)
[ "$n_used" -eq 2 ] || fail "load not shared: $PJ"
pass "two workers share the load"

# max_coefficient 1000 pins the request to worker A; kill A in the middle of the stream.
CHEAP='{"model":"test-model","stream":true,"max_coefficient":1000,"messages":[{"role":"user","content":"x"}]}'
start_ts=$(date +%s)
curl -sS -N -o "$WORK/kill.out" -H 'Content-Type: application/json' -d "$CHEAP" "$URL/v1/chat/completions" 2>"$WORK/kill.err" &
cpid=$!
sleep 0.6
kill -9 "$PID_wA"
if wait $cpid; then curl_rc=0; else curl_rc=$?; fi
elapsed=$(( $(date +%s) - start_ts ))
[ "$elapsed" -le 5 ] || fail "app waited ${elapsed}s after the worker died"
grep -q 'chat.completion.chunk' "$WORK/kill.out" || fail "no partial answer before the kill"
grep -q '^data: \[DONE\]' "$WORK/kill.out" && fail "stream completed although the worker died"
grep -q 'worker connection lost' "$WORK/kill.out" || fail "no error event in the stream: $(tail -c 300 "$WORK/kill.out")"
[ "$curl_rc" -ne 0 ] || fail "curl saw a complete response"
pass "worker killed mid-stream: error event + cut stream after ${elapsed}s (curl rc $curl_rc)"

http POST "$URL/v1/chat/completions" "$BODY"
[ "$HTTP_STATUS" = 200 ] || fail "next request after the kill: $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q '^data: \[DONE\]' || fail "next request incomplete"
pass "next request goes to the other worker"

# Capacity: B takes 2 at once (max_active_requests 2); the third is refused cleanly.
pids=()
for i in 1 2; do curl -sf -N -o "$WORK/cap$i.out" -H 'Content-Type: application/json' -d "$BODY" "$URL/v1/chat/completions" & pids+=($!); done
sleep 0.4
http POST "$URL/v1/chat/completions" "$BODY"
[ "$HTTP_STATUS" = 503 ] || fail "over capacity: $HTTP_STATUS $HTTP_BODY"
echo "$HTTP_BODY" | grep -q "busy" || fail "over capacity message: $HTTP_BODY"
wait "${pids[@]}" || true
pass "request above the workers' capacity gets 503"

# Timeout: the client's timeout field bounds the whole request.
SLOW='{"model":"test-model","stream":true,"timeout":0.5,"messages":[{"role":"user","content":"x"}]}'
start_ms=$(date +%s%N)
http POST "$URL/v1/chat/completions" "$SLOW"
el_ms=$(( ($(date +%s%N) - start_ms) / 1000000 ))
[ "$el_ms" -lt 3000 ] || fail "timeout took ${el_ms} ms"
case "$HTTP_STATUS" in 504|000|200) ;; *) fail "timeout status $HTTP_STATUS";; esac
grep -q '^data: \[DONE\]' <<<"$HTTP_BODY" && fail "timed-out stream completed"
pass "request timeout ends the request after ${el_ms} ms"

# Backend down: B's worker disables itself; the proxy stops routing to it.
kill "$PID_bB"
disabled() { ! curl -sf "$URL/v1/models" | grep -q '"coefficient":2000'; }
wait_until 10 disabled || fail "worker with a dead backend still enabled"
http POST "$URL/v1/chat/completions" "$BODY"
[ "$HTTP_STATUS" = 503 ] || fail "no enabled worker: $HTTP_STATUS $HTTP_BODY"
pass "backend down disables its worker; requests get 503"

# And it comes back when the backend does.
start_backend bB2 --chunks 3
kill "$PID_wB"
start_worker wB2 "$PADDR" "$BACKEND_URL_bB2" --coefficient 2000 --health-interval-ms 200
back() { curl -sf "$URL/v1/models" | grep -q '"coefficient":2000'; }
wait_until 10 back || fail "restarted worker not enabled"
http POST "$URL/v1/chat/completions" '{"model":"test-model","messages":[{"role":"user","content":"x"}]}'
[ "$HTTP_STATUS" = 200 ] || fail "after restart: $HTTP_STATUS"
pass "a new worker is used at once"
