#!/usr/bin/env bash
# test_rollback: a proxy whose ledger was replaced by an older copy (or lost) finds itself behind
# the peers that hold higher signed totals. It refuses exactly those peers with a clear error and
# raises an alarm in /stats, /jsonstats and /metrics instead of aborting; the peers keep the
# highest signed payment on disk across their own restarts.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

jnum() { # jnum JSON KEY: first integer value of "KEY"
  echo "$1" | grep -o "\"$2\":[0-9-]*" | head -1 | cut -d: -f2
}
start_backend b1 --chunks 3
PFLAGS=(--payment-interval-ms 0)
start_proxy proxy "${PFLAGS[@]}"
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
WPORT=${PADDR##*:}; CPORT=${CADDR##*:}
pkey="$WORK/proxy-keys"
restart_proxy() {
  rm -f "$WORK/proxy.ready"
  start proxy "$COCOON" proxy --worker-listen "127.0.0.1:$WPORT" --client-listen "127.0.0.1:$CPORT" \
    --http-listen 127.0.0.1:0 --pow-difficulty 8 --key-dir "$pkey" --ready-file "$WORK/proxy.ready" "${PFLAGS[@]}"
  wait_ready "$WORK/proxy.ready"
  PURL=$(ready_get "$WORK/proxy.ready" http_url)
}
stop_proxy() { kill "$PID_proxy"; wait "$PID_proxy" 2>/dev/null || true; }
WOWNER=0:1111111111111111111111111111111111111111111111111111111111111111
COWNER=0:2222222222222222222222222222222222222222222222222222222222222222
start_worker w1 "$PADDR" "$BACKEND_URL_b1" --owner-address "$WOWNER"
start_client client "$CADDR" --owner-address "$COWNER"
URL=$(ready_get "$WORK/client.ready" http_url)
WURL=$(ready_get "$WORK/w1.ready" http_url)
models_ok() { curl -sf "$URL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 models_ok || fail "model never listed"
BODY='{"model":"test-model","max_tokens":50,"messages":[{"role":"user","content":"pay me"}]}'
run_requests() {
  local i
  for i in $(seq 1 "$1"); do
    http POST "$URL/v1/chat/completions" "$BODY"
    [ "$HTTP_STATUS" = 200 ] || fail "request: $HTTP_STATUS $HTTP_BODY"
  done
}
worker_tokens() { jnum "$(curl -sf "$WURL/jsonstats")" signed_payout_tokens; }
client_tokens() { jnum "$(curl -sf "$URL/jsonstats")" signed_charge_tokens; }

# 1. Some paid requests, then a copy of the ledger as it stands (the "backup").
run_requests 2
wait_until 10 bash -c "[ \"\$(curl -sf $WURL/jsonstats | grep -o '\"signed_payout_tokens\":[0-9]*' | cut -d: -f2)\" -gt 0 ]" \
  || fail "worker never received a signed payout"
stop_proxy
cp "$pkey/ledger.db" "$WORK/ledger-old.db"
old_w=$(worker_tokens); old_c=$(client_tokens)
restart_proxy
wait_until 20 models_ok || fail "peers did not reconnect after a clean restart"

# 2. More requests: the peers now hold higher signed totals than the backup has.
run_requests 3
wait_until 10 bash -c "[ \$(curl -sf $WURL/jsonstats | grep -o '\"signed_payout_tokens\":[0-9]*' | cut -d: -f2) -gt $old_w ]" \
  || fail "worker total did not grow past $old_w"
wait_until 10 bash -c "[ \$(curl -sf $URL/jsonstats | grep -o '\"signed_charge_tokens\":[0-9]*' | cut -d: -f2) -gt $old_c ]" \
  || fail "client total did not grow past $old_c"
new_w=$(worker_tokens); new_c=$(client_tokens)
ls "$WORK"/w1-keys/held-*.boc >/dev/null 2>&1 || fail "worker did not persist its held payment"
ls "$WORK"/client-keys/held-*.boc >/dev/null 2>&1 || fail "client did not persist its held payment"
[ "$(stat -c %a "$WORK"/w1-keys/held-*.boc)" = 600 ] || fail "held payment file is not mode 0600"
pass "peers hold signed totals worker=$new_w client=$new_c (backup had $old_w/$old_c), persisted 0600"

# 3. Restart the worker: it reloads its held payment from disk; the proxy is still in step.
kill "$PID_w1"; wait "$PID_w1" 2>/dev/null || true
rm -f "$WORK/w1.ready"
start_worker w1 "$PADDR" "$BACKEND_URL_b1" --owner-address "$WOWNER"
WURL=$(ready_get "$WORK/w1.ready" http_url)
reloaded() { [ "$(worker_tokens)" -ge "$new_w" ] 2>/dev/null && curl -sf "$WURL/jsonstats" | grep -q '"state":"ready"'; }
wait_until 20 reloaded || fail "worker lost its held total across a restart: $(worker_tokens) < $new_w"
wait_until 20 models_ok || fail "worker did not come back"
pass "worker reloaded its held total $(worker_tokens) after a restart"

# 4. Roll the proxy's ledger back to the backup and restart it.
stop_proxy
rm -f "$pkey/ledger.db-wal" "$pkey/ledger.db-shm"
cp "$WORK/ledger-old.db" "$pkey/ledger.db"
restart_proxy
refused_w() { grep -q 'proxy ledger is behind this worker' "$WORK/w1.log"; }
wait_until 20 refused_w || fail "worker was not refused with the ledger-behind error"
refused_c() { curl -sf "$URL/jsonstats" | grep -Eq 'tokens_committed_to_db is too low|below the [0-9]+ already held'; }
wait_until 20 refused_c || fail "client did not refuse the rolled-back proxy"
J=$(curl -sf "$PURL/jsonstats")
[ "$(jnum "$J" ledger_behind)" -ge 1 ] || fail "no alarm in /jsonstats: $J"
curl -sf "$PURL/metrics" | grep -q '^cocoon_alarm{role="proxy",alarm="ledger_behind"} 1' || fail "no alarm in /metrics"
curl -sf "$PURL/stats" | grep -q 'ALARM: ledger behind' || fail "no alarm in /stats"
grep -q 'ledger_behind_peer' "$WORK/proxy.log" || fail "proxy did not log the refusal"
kill -0 "$PID_proxy" || fail "proxy died"
http POST "$URL/v1/chat/completions" "$BODY"
[ "$HTTP_STATUS" != 200 ] || fail "client still used the rolled-back proxy"
pass "rolled-back ledger: worker refused ($(grep -o 'holds a signed total of [0-9]* tokens, the proxy.s ledger has [0-9]*' "$WORK/w1.log" | head -1)), client refused, alarm raised, proxy alive"

# 5. Lost ledger: same story.
stop_proxy
rm -f "$pkey/ledger.db" "$pkey/ledger.db-wal" "$pkey/ledger.db-shm"
restart_proxy
wait_until 20 bash -c "[ \$(curl -sf $PURL/jsonstats | grep -o '\"ledger_behind\":[0-9]*' | cut -d: -f2) -ge 1 ]" \
  || fail "lost ledger: no alarm"
pass "deleted ledger: the worker holding a signed total is refused and the alarm shows"

# 6. A held payment changed on disk is not trusted after a restart (verified like a received one).
kill "$PID_client"; wait "$PID_client" 2>/dev/null || true
f=$(ls "$WORK"/client-keys/held-*.boc | head -1)
printf '\x01' | dd of="$f" bs=1 seek=40 conv=notrunc status=none
rm -f "$WORK/client.ready"
start_client client "$CADDR" --owner-address "$COWNER"
tampered() { grep -q 'payment_load_failed.*does not verify' "$WORK/client.log"; }
wait_until 20 tampered || fail "a tampered held payment was not reported"
pass "a corrupted held payment file is refused: $(grep -o 'does not verify: [^"]*' "$WORK/client.log" | head -1)"
