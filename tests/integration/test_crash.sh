#!/usr/bin/env bash
# test_crash: the proxy is killed with SIGKILL under load and restarted, repeatedly. Every
# request whose complete answer reached the app is in the ledger (answers are released only
# after their record is committed), the ledger verifies, and clients and workers reconnect.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

start_backend b1 --chunks 4 --delay-ms 5
start_proxy proxy
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
WPORT=${PADDR##*:}; CPORT=${CADDR##*:}
start_worker w1 "$PADDR" "$BACKEND_URL_b1"
start_client client "$CADDR"
URL=$(ready_get "$WORK/client.ready" http_url)
models_ok() { curl -sf "$URL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 models_ok || fail "model never listed"

# Load: 3 loops of sequential requests; each completed answer is counted.
BODY='{"model":"test-model","stream":true,"messages":[{"role":"user","content":"count me"}]}'
load() {
  local i ok=0
  for i in $(seq 1 "$1"); do
    if curl -s -N --max-time 10 -H 'Content-Type: application/json' -d "$BODY" "$URL/v1/chat/completions" \
        | grep -q '^data: \[DONE\]'; then ok=$((ok + 1)); fi
  done
  echo "$ok" >"$WORK/ok.$2"
}
lpids=()
for k in 1 2 3; do load 60 "$k" & lpids+=($!); done

pkey="$WORK/proxy-keys"
for round in 1 2 3; do
  sleep 1
  kill -9 "$PID_proxy"
  wait "$PID_proxy" 2>/dev/null || true
  rm -f "$WORK/proxy.ready"
  start proxy "$COCOON" proxy --worker-listen "127.0.0.1:$WPORT" --client-listen "127.0.0.1:$CPORT" \
    --http-listen 127.0.0.1:0 --pow-difficulty 8 --key-dir "$pkey" --ready-file "$WORK/proxy.ready"
  wait_ready "$WORK/proxy.ready"
  wait_until 20 models_ok || fail "round $round: peers did not reconnect"
done
wait "${lpids[@]}" || true
n_ok=$(( $(cat "$WORK/ok.1") + $(cat "$WORK/ok.2") + $(cat "$WORK/ok.3") ))
[ "$n_ok" -gt 0 ] || fail "no request completed"

kill "$PID_proxy"; wait "$PID_proxy" 2>/dev/null || true
"$COCOON" ledger verify "$pkey/ledger.db" --key-file "$pkey/key.pem" >"$WORK/verify.out" 2>&1 \
  || fail "ledger verify after kills: $(cat "$WORK/verify.out")"
n_led=$(grep -o '[0-9]* requests' "$WORK/verify.out" | grep -o '^[0-9]*')
[ "${n_led:-0}" -ge "$n_ok" ] || fail "app received $n_ok complete answers but the ledger holds $n_led requests"
pass "3 SIGKILLs under load: $n_ok complete answers received, $n_led requests in the ledger, ledger verifies"
