#!/usr/bin/env bash
# test_crash: the proxy is killed with SIGKILL under load (streamed and non-streamed requests)
# and restarted, repeatedly. After each restart: every request whose complete answer reached the
# app (a stream's [DONE], or a normally ended HTTP response; its X-Cocoon-Request-Id) is in the
# ledger exactly once (answers are released only after
# their record is committed), the ledger verifies, and workers and clients reconnect and serve
# requests again.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
start_backend b1 --chunks 4 --delay-ms 5
start_proxy proxy --payment-interval-ms 100
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
WPORT=${PADDR##*:}; CPORT=${CADDR##*:}
start_worker w1 "$PADDR" "$BACKEND_URL_b1" --owner-address 0:5555555555555555555555555555555555555555555555555555555555555555
start_client client "$CADDR" --owner-address 0:6666666666666666666666666666666666666666666666666666666666666666
URL=$(ready_get "$WORK/client.ready" http_url)
models_ok() { curl -sf "$URL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 models_ok || fail "model never listed"

# Load: sequential requests in 3 loops; each complete answer's request id is recorded.
STREAM='{"model":"test-model","stream":true,"messages":[{"role":"user","content":"count me"}]}'
PLAIN='{"model":"test-model","messages":[{"role":"user","content":"count me too"}]}'
load() {
  local k=$1 i=0 h="$WORK/hdr.$1" b="$WORK/body.$1" id
  : >"$WORK/done.$k"
  while [ ! -e "$WORK/stop" ]; do
    i=$((i + 1))
    rm -f "$h" "$b" # curl leaves a file it never opened as it was: never judge an answer by the last one
    # Complete: a streamed answer once the app has "data: [DONE]" (the worker sends it with the
    # final part, which the proxy holds until the commit), even if the response is cut right
    # after; a whole answer once its HTTP response ended normally (curl exits 0), since a whole
    # JSON body passes before the final message.
    if [ $((i % 2)) = 0 ]; then
      curl -s -N --max-time 10 -D "$h" -o "$b" -H 'Content-Type: application/json' -d "$STREAM" \
        "$URL/v1/chat/completions" || true
      grep -q '^data: \[DONE\]' "$b" 2>/dev/null || continue
    else
      curl -s --max-time 10 -D "$h" -o "$b" -H 'Content-Type: application/json' -d "$PLAIN" \
        "$URL/v1/chat/completions" || continue
      head -1 "$h" 2>/dev/null | grep -q ' 200' && grep -q '"choices"' "$b" 2>/dev/null || continue
    fi
    id=$(tr -d '\r' <"$h" | sed -n 's/^[Xx]-[Cc]ocoon-[Rr]equest-[Ii]d: //p')
    [ -n "$id" ] || { echo "no request id header" >"$WORK/load_error"; return; }
    echo "$id" >>"$WORK/done.$k"
  done
}
lpids=()
for k in 1 2 3; do
  load "$k" &
  lpids+=($!)
  PIDS+=($!) # a failing check must not leave them looping over a removed work dir
done

pkey="$WORK/proxy-keys"
# Every id the app holds must be in the ledger, once; read the app's ids first.
check_ledger() {
  local when=$1
  cat "$WORK"/done.* | sort >"$WORK/app.ids"
  [ -z "$(uniq -d "$WORK/app.ids")" ] || fail "$when: the app saw a request id twice"
  "$COCOON" ledger ids "$pkey/ledger.db" --key-file "$pkey/key.pem" >"$WORK/led.raw" 2>"$WORK/led.err" \
    || fail "$when: ledger does not verify: $(cat "$WORK/led.err")"
  cut -d' ' -f1 "$WORK/led.raw" | sort >"$WORK/led.ids"
  [ -z "$(uniq -d "$WORK/led.ids")" ] || fail "$when: a request is in the ledger twice"
  local missing
  missing=$(comm -23 "$WORK/app.ids" "$WORK/led.ids" | head -3)
  [ -z "$missing" ] || fail "$when: completed requests missing from the ledger: $missing"
  # Signed totals never ran ahead of the ledger: no peer is refused as "ahead" after a kill.
  ! grep -q ledger_behind_peer "$WORK/proxy.log" || fail "$when: a peer holds more than the ledger after a crash"
  echo "$when: $(wc -l <"$WORK/app.ids") completed answers, all in the ledger ($(wc -l <"$WORK/led.ids") records)"
}
for round in $(seq 1 "$ROUNDS"); do
  sleep 1
  kill -9 "$PID_proxy"
  wait "$PID_proxy" 2>/dev/null || true
  rm -f "$WORK/proxy.ready"
  start proxy "$COCOON" proxy --worker-listen "127.0.0.1:$WPORT" --client-listen "127.0.0.1:$CPORT" \
    --http-listen 127.0.0.1:0 --pow-difficulty 8 --key-dir "$pkey" --ready-file "$WORK/proxy.ready" \
    --payment-interval-ms 100
  wait_ready "$WORK/proxy.ready"
  wait_until 20 models_ok || fail "round $round: peers did not reconnect"
  # Peers continue: a fresh request goes through the restarted proxy.
  before=$(cat "$WORK"/done.* | wc -l)
  grew() { [ "$(cat "$WORK"/done.* | wc -l)" -gt "$before" ]; }
  wait_until 20 grew || fail "round $round: no request completed after the restart"
  check_ledger "after SIGKILL $round"
done
touch "$WORK/stop"
wait "${lpids[@]}" || true
[ ! -e "$WORK/load_error" ] || fail "$(cat "$WORK/load_error")"

kill "$PID_proxy"; wait "$PID_proxy" 2>/dev/null || true
check_ledger "final"
"$COCOON" ledger verify "$pkey/ledger.db" --key-file "$pkey/key.pem" >"$WORK/verify.out" 2>&1 \
  || fail "ledger verify after kills: $(cat "$WORK/verify.out")"
pass "$ROUNDS SIGKILLs under load: $(wc -l <"$WORK/app.ids") complete answers, each in the ledger once; $(cat "$WORK/verify.out")"
