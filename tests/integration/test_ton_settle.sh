#!/usr/bin/env bash
# test_ton_settle: settlement on the local TON (tools/localton, real contracts in the TVM emulator).
# Root, proxy, client and worker contracts deployed with contracts/build.cjs; a proxy with
# `settlement ton` whose own wallet submits the clients' charges and the workers' payouts at
# nano-TON thresholds; requests served; the contracts' figures then equal the ledger's to the
# nano-TON; the client closes its contract through its wallet and gets its refund after the
# close delay (time moved on the local chain).
# SPDX-License-Identifier: Apache-2.0
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v node >/dev/null 2>&1; then echo "SKIP: node is not installed; the local TON cannot run"; exit 0; fi
for d in contracts tools/localton; do
  if [ ! -d "$ROOT/$d/node_modules/@ton/sandbox" ]; then
    echo "SKIP: $d/node_modules is missing (npm ci in $d) for the local TON"
    exit 0
  fi
done
source "$(dirname "$0")/lib.sh"
jnum() { echo "$1" | grep -o "\"$2\":[0-9-]*" | head -1 | cut -d: -f2; }
field() { sed -n "s/^$1: //p" | head -1; }
gm() { "$COCOON" ton get-method --endpoint "$TON" "$1" "$2" | sed -n "s/^$3: num //p"; } # gm ADDR METHOD INDEX
bal() { "$COCOON" ton balance --endpoint "$TON" "$1" | field balance; }

# The local TON.
(cd "$ROOT/tools/localton" && exec node server.cjs 0) >"$WORK/localton.out" 2>"$WORK/localton.log" &
PIDS+=($!)
TON=
for _ in $(seq 1 300); do TON=$(head -1 "$WORK/localton.out" 2>/dev/null || true); [ -n "$TON" ] && break; sleep 0.1; done
[ -n "$TON" ] || fail "the local TON did not start"
fund() { curl -sf -X POST -H 'Content-Type: application/json' -d "{\"address\":\"$1\",\"amount\":\"$2\"}" \
  "${TON%/api/v2}/localton/fund" >/dev/null || fail "fund $1"; }

# Wallets: the proxy's (pays for submissions), the client's owner, the worker's owner.
for w in proxy client worker; do
  "$COCOON" ton wallet-key --out "$WORK/$w-wallet.key" --wallet v4r2 >"$WORK/$w-wallet.info" || fail "wallet-key $w"
  eval "W_$w=$(field address <"$WORK/$w-wallet.info")"
done
# shellcheck disable=SC2154
{ fund "$W_proxy" 5000000000; fund "$W_client" 2000000000; }

# A wallet key others may read, or none at all, stops the proxy with a clear message.
cp "$WORK/proxy-wallet.key" "$WORK/open.key"; chmod 644 "$WORK/open.key"
for k in "$WORK/open.key" "$WORK/none.key"; do
  set +e
  "$COCOON" proxy --settlement ton --toncenter-url "$TON" --ton-wallet-key "$k" --key-dir "$WORK/bad-keys" \
    --worker-listen 127.0.0.1:0 --client-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 >"$WORK/bad.out" 2>&1; rc=$?
  set -e
  [ $rc != 0 ] && grep -q "wallet key $k: \(mode 644 lets others read it\|cannot open\)" "$WORK/bad.out" ||
    fail "proxy with wallet key $k: rc $rc $(tail -3 "$WORK/bad.out")"
done
grep -q "$(cat "$WORK/proxy-wallet.key")" "$WORK/bad.out" && fail "a key in the log"
pass "unsafe or missing wallet keys refused: $(grep -o 'wallet key [^"]*' "$WORK/bad.out" | head -1)"

TOPUP=10000000000
start_backend b1 --chunks 3
start_proxy proxy --settlement ton --toncenter-url "$TON" --ton-wallet-key "$WORK/proxy-wallet.key" \
  --price-per-token 20 --worker-fee-per-token 19 --local-client-credit $TOPUP --min-client-stake 1000000000 \
  --ton-charge-threshold-nanoton 1 --ton-payout-threshold-nanoton 1 --ton-scan-ms 300 --payment-interval-ms 0
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
PHTTP=$(ready_get "$WORK/proxy.ready" http_url)
wallet_seen() { grep -q "ev=ton_wallet wallet=.* balance=5000000000 " "$WORK/proxy.log"; }
wait_until 10 wallet_seen || fail "the proxy did not report its wallet's balance"

# The contracts, bound to the proxy's signing key.
node "$ROOT/tests/integration/ton/deploy_settle.cjs" "$TON" "$WORK/proxy-keys/key.pem" "$W_proxy" "$W_client" \
  "$W_worker" $TOPUP >"$WORK/deploy.out" 2>"$WORK/deploy.log" || fail "deploy: $(cat "$WORK/deploy.log")"
eval "$(grep -E '^[A-Z_]+=[0-9a-f:-]+$' "$WORK/deploy.out")"
[ -n "${CLIENT_SC:-}" ] && [ -n "${WORKER_SC:-}" ] || fail "deploy printed $(cat "$WORK/deploy.out")"
[ "$(gm "$CLIENT_SC" get_cocoon_client_data 4)" = $TOPUP ] || fail "client contract not topped up"
pass "contracts deployed: root $ROOT_SC client $CLIENT_SC worker $WORKER_SC"

start_worker w1 "$PADDR" "$BACKEND_URL_b1" --owner-address "$WORKER_SC"
start_client client "$CADDR" --owner-address "$CLIENT_SC" --ton-wallet-key "$WORK/client-wallet.key" \
  --toncenter-url "$TON" --ton-message-ttl-s 900
URL=$(ready_get "$WORK/client.ready" http_url)
models_ok() { curl -sf "$URL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 models_ok || fail "model never listed"
BODY='{"model":"test-model","max_tokens":20,"max_coefficient":1000,"messages":[{"role":"user","content":"x"}]}'
for i in 1 2 3 4; do
  http POST "$URL/v1/chat/completions" "$BODY"
  [ "$HTTP_STATUS" = 200 ] || fail "request $i: $HTTP_STATUS $HTTP_BODY"
done
pass "4 requests served"

# The ledger's figures (`cocoon ledger show`: kind owner balance stake tokens ...).
ledger_row() { "$COCOON" ledger show "$WORK/proxy-keys/ledger.db" | awk -v k="$1" -v o="$2" '$1==k && $2==o'; }
nano() { echo "$1" | tr -d . | sed 's/^0*//; s/^$/0/'; }
landed() {
  local c w
  c=$(ledger_row client "$CLIENT_SC" | awk '{print $5}')
  w=$(ledger_row worker "$WORKER_SC" | awk '{print $5}')
  [ -n "$c" ] && [ "$c" -gt 0 ] && [ "$(gm "$CLIENT_SC" get_cocoon_client_data 6)" = "$c" ] &&
    [ -n "$w" ] && [ "$(gm "$WORKER_SC" get_cocoon_worker_data 4)" = "$w" ]
}
wait_until 60 landed || fail "the charge and payout did not land: ledger $(ledger_row client "$CLIENT_SC") / $(ledger_row worker "$WORKER_SC"); chain client $(gm "$CLIENT_SC" get_cocoon_client_data 6) worker $(gm "$WORKER_SC" get_cocoon_worker_data 4); proxy $(curl -sf "$PHTTP/jsonstats" | grep -o '"ton":{[^}]*}')"
J=$(curl -sf "$PHTTP/jsonstats")
[ "$(jnum "$J" failed)" = 0 ] || fail "submissions failed: $(echo "$J" | grep -o '"ton":{[^}]*}')"
CROW=$(ledger_row client "$CLIENT_SC"); WROW=$(ledger_row worker "$WORKER_SC")
CTOK=$(echo "$CROW" | awk '{print $5}'); CBAL=$(nano "$(echo "$CROW" | awk '{print $3}')")
WTOK=$(echo "$WROW" | awk '{print $5}'); WBAL=$(nano "$(echo "$WROW" | awk '{print $3}')")
# Client: the contract's balance is the top-up less every charge, as in the ledger.
[ "$(gm "$CLIENT_SC" get_cocoon_client_data 4)" = "$CBAL" ] || fail "client balance: chain $(gm "$CLIENT_SC" get_cocoon_client_data 4) ledger $CBAL"
[ $((TOPUP - CBAL)) = $((CTOK * 20)) ] || fail "ledger charges $((TOPUP - CBAL)) for $CTOK tokens"
# Worker: its owner's wallet received exactly its earnings (the proxy contract pays tokens x fee).
# Summed from the wallet's incoming messages: an uninitialized account also pays storage fees.
WGOT=$("$COCOON" ton transactions --endpoint "$TON" "$W_worker" --limit 50 | grep -o ' in internal value [0-9]*' |
  awk '{s += $4} END {print s + 0}')
[ "$WGOT" = "$WBAL" ] && [ "$WBAL" = $((WTOK * 19)) ] || fail "worker owner received $WGOT, ledger earnings $WBAL for $WTOK tokens"
pass "on chain = ledger: client $CTOK tokens, balance $CBAL nanoTON; worker $WTOK tokens, paid $WGOT nanoTON ($(echo "$J" | grep -o '"ton":{[^}]*}'))"

# The client closes: request_refund from its own wallet (closing, the excess over the stake at
# once), once more before the delay (refused by the contract: still closing), then after the close
# delay (closed, the stake from the proxy); the client daemon's wallet sends each (/request/close).
TXS0=$("$COCOON" ton transactions --endpoint "$TON" "$W_client" --limit 50 | grep -c ' in internal ' || true)
http GET "$URL/request/close?proxy=$CADDR"
[ "$HTTP_STATUS" = 200 ] && echo "$HTTP_BODY" | grep -q '"via":"wallet".*"state":"closing"' || fail "close 1: $HTTP_STATUS $HTTP_BODY"
[ "$(gm "$CLIENT_SC" get_cocoon_client_data 3)" = 1 ] || fail "client contract not closing"
pass "close 1 through the client daemon's wallet: $HTTP_BODY"
http GET "$URL/request/close?proxy=$CADDR"
[ "$HTTP_STATUS" = 200 ] && echo "$HTTP_BODY" | grep -q '"state":"closing"' || fail "close before the delay: $HTTP_STATUS $HTTP_BODY"
curl -sf -X POST -H 'Content-Type: application/json' -d '{"advance":301}' "${TON%/api/v2}/localton/now" >/dev/null
http GET "$URL/request/close?proxy=$CADDR"
[ "$HTTP_STATUS" = 200 ] && echo "$HTTP_BODY" | grep -q '"state":"closed"' || fail "close 2: $HTTP_STATUS $HTTP_BODY"
[ "$(gm "$CLIENT_SC" get_cocoon_client_data 3)" = 2 ] || fail "client contract not closed"
"$COCOON" ton transactions --endpoint "$TON" "$W_client" --limit 50 >"$WORK/client-txs.txt"
# The refunds: the proxy contract's payouts into the client's wallet; everything else that came in
# is an excess or a bounce of a 0.3 TON request, so less than 0.3 TON. First the balance above the
# stake, then the stake.
NEW=$(( $(grep -c ' in internal ' "$WORK/client-txs.txt") - TXS0 ))
grep ' in internal ' "$WORK/client-txs.txt" | head -n $NEW | awk '{print $12}' | tac >"$WORK/refunds.txt"
PAYS=$(awk '$1 > 300000000' "$WORK/refunds.txt" | paste -sd' ')
[ "$PAYS" = "$((CBAL - 1000000000)) 1000000000" ] || fail "refunds $PAYS, expected $((CBAL - 1000000000)) then the stake 1000000000 (balance $CBAL): $(cat "$WORK/client-txs.txt")"
pass "client closed its contract: refunded $((CBAL - 1000000000)) at once and its stake 1000000000 after the close delay = the ledger balance $CBAL"

# The ledger with its on-chain marks still verifies (every row's MAC, the billing invariants).
"$COCOON" ledger verify "$WORK/proxy-keys/ledger.db" --key-file "$WORK/proxy-keys/key.pem" >"$WORK/verify.out" 2>&1 ||
  fail "ledger verify: $(cat "$WORK/verify.out")"
pass "ledger verifies: $(head -1 "$WORK/verify.out")"
