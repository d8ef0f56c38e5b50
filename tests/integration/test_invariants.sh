#!/usr/bin/env bash
# test_invariants: a randomized run of the whole network (3 clients with small credit, 3 workers
# at different coefficients, multipliers != 1.0x) with concurrent streamed and non-streamed
# requests, cancellations (the app disconnects mid-stream), top-ups and withdrawals, a worker
# killed with SIGKILL and restarted, a backend killed mid-stream and restarted. Afterwards `cocoon ledger verify` holds:
# charges = earnings + commissions exactly, every request's charge recomputed from its stored
# usage, account totals = their rows, the commit chain, and no client balance ever negative.
# DURATION=<seconds> (default 20) sets the load time; SOAK=1 runs 300 s.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-20}
[ "${SOAK:-0}" = 1 ] && DURATION=300
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
echo "seed=$SEED duration=${DURATION}s"

start_backend b1 --chunks 8 --delay-ms 25
start_backend b2 --chunks 3 --delay-ms 5
start_proxy proxy --local-client-credit 40000 --min-client-stake 5000 --payment-interval-ms 200 \
  --prompt-multiplier 12000 --completion-multiplier 8000 --price-per-token 3 --worker-fee-per-token 2
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
owner() { printf '0:%064d' "$1"; }
start_worker w1 "$PADDR" "$BACKEND_URL_b1" --owner-address "$(owner 11)" --coefficient 1000
start_worker w2 "$PADDR" "$BACKEND_URL_b1" --owner-address "$(owner 12)" --coefficient 1500
start_worker w3 "$PADDR" "$BACKEND_URL_b2" --owner-address "$(owner 13)" --coefficient 800
URLS=()
for c in 1 2 3; do
  start_client "c$c" "$CADDR" --owner-address "$(owner $((20 + c)))"
  URLS+=("$(ready_get "$WORK/c$c.ready" http_url)")
done
models_ok() { local u; for u in "${URLS[@]}"; do curl -sf "$u/v1/models" | grep -q '"id":"test-model"' || return 1; done; }
wait_until 20 models_ok || fail "model never listed"

END=$(( $(date +%s) + DURATION ))
# One load loop: random stream/non-stream, max_tokens and max_coefficient; some cancelled.
load() {
  local url=$1 tag=$2 n=0 ok=0 refused=0 cancelled=0 other=0 st mt mc body code
  RANDOM=$(( SEED + tag ))
  while [ "$(date +%s)" -lt "$END" ]; do
    n=$((n + 1))
    st=$(( RANDOM % 2 )); mt=$(( 5 + RANDOM % 200 )); mc=$(( 1000 + RANDOM % 1500 ))
    body="{\"model\":\"test-model\",\"stream\":$([ $st = 1 ] && echo true || echo false),\"max_tokens\":$mt,\"max_coefficient\":$mc,\"messages\":[{\"role\":\"user\",\"content\":\"load $tag $n\"}]}"
    if [ $(( RANDOM % 6 )) = 0 ]; then
      # The app hangs up after 40 ms: mid-stream for b1's 200 ms answers.
      curl -s -N --max-time 0.04 -o /dev/null -H 'Content-Type: application/json' -d "$body" \
        "$url/v1/chat/completions" || true
      cancelled=$((cancelled + 1))
      continue
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H 'Content-Type: application/json' -d "$body" \
      "$url/v1/chat/completions" || true)
    case "$code" in 200) ok=$((ok + 1)) ;; 402) refused=$((refused + 1)) ;; *) other=$((other + 1)) ;; esac
  done
  echo "$ok $refused $cancelled $other" >"$WORK/load.$tag"
}
# Money moves: top-ups and withdrawals on random clients.
money() {
  local n=0 u amt
  RANDOM=$(( SEED + 99 ))
  while [ "$(date +%s)" -lt "$END" ]; do
    u=${URLS[$(( RANDOM % 3 ))]}
    if [ $(( RANDOM % 3 )) = 0 ]; then
      curl -s -o /dev/null "$u/request/withdraw?proxy=$CADDR" || true
    else
      amt=$(( 1000 + RANDOM % 20000 ))
      curl -s -o /dev/null "$u/request/topup?proxy=$CADDR&amount=$amt" || true
    fi
    n=$((n + 1))
    sleep 0.$(( RANDOM % 5 ))
  done
  echo "$n" >"$WORK/money.n"
}
pids=()
tag=0
for u in "${URLS[@]}"; do
  for k in 1 2; do tag=$((tag + 1)); load "$u" "$tag" & pids+=($!); done
done
money & pids+=($!)

# Failures: worker w2 killed and restarted at 1/3; backend b1 (behind w1 and w2) killed mid-stream
# at 2/3 and restarted on its port a second later (answers in flight fail, workers recover).
sleep $(( DURATION / 3 ))
kill -9 "$PID_w2"; wait "$PID_w2" 2>/dev/null || true
rm -f "$WORK/w2.ready"
start_worker w2 "$PADDR" "$BACKEND_URL_b1" --owner-address "$(owner 12)" --coefficient 1500
sleep $(( DURATION / 3 ))
kill -9 "$PID_b1"; wait "$PID_b1" 2>/dev/null || true
sleep 1
B1PORT=${BACKEND_URL_b1##*:}
start b1 "$BACKEND" --listen "127.0.0.1:$B1PORT" --chunks 8 --delay-ms 25
wait "${pids[@]}" || true

read -r ok refused cancelled other < <(cat "$WORK"/load.* | awk '{a+=$1;b+=$2;c+=$3;d+=$4} END {print a, b, c, d}')
echo "requests: $ok ok, $refused refused for credit (402), $cancelled cancelled, $other failed; $(cat "$WORK/money.n") money operations"
[ "$ok" -gt 0 ] || fail "no request completed"
[ "$cancelled" -gt 0 ] || fail "no request was cancelled"

# Clean stop, then the whole ledger is checked.
for n in c1 c2 c3 w1 w2 w3; do eval "kill \$PID_$n"; done
kill "$PID_proxy"; wait "$PID_proxy" 2>/dev/null || true
pkey="$WORK/proxy-keys"
"$COCOON" ledger verify "$pkey/ledger.db" --key-file "$pkey/key.pem" >"$WORK/verify.out" 2>&1 \
  || fail "ledger verify: $(head -20 "$WORK/verify.out")"
cat "$WORK/verify.out"
n_led=$(grep -o '[0-9]* requests' "$WORK/verify.out" | grep -o '^[0-9]*')
[ "${n_led:-0}" -ge "$ok" ] || fail "$ok answers completed but the ledger holds $n_led requests"
n_xfer=$(grep -o '[0-9]* transfers' "$WORK/verify.out" | grep -o '^[0-9]*')
[ "${n_xfer:-0}" -gt 3 ] || fail "no top-up or withdrawal reached the ledger ($n_xfer transfers)"
"$COCOON" ledger show "$pkey/ledger.db" --key-file "$pkey/key.pem" | head -12
n_failed=$("$COCOON" ledger ids "$pkey/ledger.db" | grep -c ' failed$' || true)
pass "randomized run (seed $SEED): ledger verifies with $n_led requests ($n_failed failed) and $n_xfer transfers"
