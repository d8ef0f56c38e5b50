#!/usr/bin/env bash
# test_ton_settle: settlement on the local TON (tools/localton, real contracts in the TVM emulator).
# The root contract deployed from a registry file (`cocoon registry root-data`); proxy, client and
# worker contracts under it (contracts/build.cjs); a proxy with `settlement ton` that learns the
# client's deposit from its client contract (no local credit) and whose own wallet submits the
# clients' charges and the workers' payouts at nano-TON thresholds; the client daemon tops its
# contract up by itself when the balance falls below half the stake; requests served; the
# contracts' figures then equal the ledger's to the nano-TON; the client closes its contract
# through its wallet, the proxy sees it closing and stops serving it, and the client gets its
# refund after the close delay (time moved on the local chain).
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
ledger_row() { "$COCOON" ledger show "$WORK/proxy-keys/ledger.db" | awk -v k="$1" -v o="$2" '$1==k && $2==o'; }
bal() { "$COCOON" ton balance --endpoint "$TON" "$1" | field balance; }

# The local TON.
(cd "$ROOT/tools/localton" && exec node server.cjs 0) >"$WORK/localton.out" 2>"$WORK/localton.log" &
PIDS+=($!)
TON=
for _ in $(seq 1 300); do TON=$(head -1 "$WORK/localton.out" 2>/dev/null || true); [ -n "$TON" ] && break; sleep 0.1; done
[ -n "$TON" ] || fail "the local TON did not start"
fund() { curl -sf -X POST -H 'Content-Type: application/json' -d "{\"address\":\"$1\",\"amount\":\"$2\"}" \
  "${TON%/api/v2}/localton/fund" >/dev/null || fail "fund $1"; }

# Wallets: the proxy's (pays for the charges' submissions), the client's owner, the worker's
# owner (receives its payouts, nothing else), and the worker daemon's (submits its payouts).
for w in proxy client worker wsend; do
  "$COCOON" ton wallet-key --out "$WORK/$w-wallet.key" --wallet v4r2 >"$WORK/$w-wallet.info" || fail "wallet-key $w"
  eval "W_$w=$(field address <"$WORK/$w-wallet.info")"
done
# shellcheck disable=SC2154
{ fund "$W_proxy" 5000000000; fund "$W_client" 4000000000; fund "$W_wsend" 1000000000; }

# A wallet key others may read, or none at all, stops the proxy with a clear message; so does a
# ton proxy without its proxy contract.
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
set +e
"$COCOON" proxy --settlement ton --toncenter-url "$TON" --ton-wallet-key "$WORK/proxy-wallet.key" --key-dir "$WORK/bad-keys" \
  --worker-listen 127.0.0.1:0 --client-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 >"$WORK/bad2.out" 2>&1; rc=$?
set -e
[ $rc != 0 ] && grep -q "needs ton_proxy_contract" "$WORK/bad2.out" || fail "proxy without ton_proxy_contract: rc $rc $(tail -3 "$WORK/bad2.out")"
pass "unsafe or missing wallet keys refused: $(grep -o 'wallet key [^"]*' "$WORK/bad.out" | head -1); no proxy contract refused"

# The root contract, deployed from a registry file: its data from `cocoon registry root-data`, the
# code compiled by contracts/build.cjs; the prices and terms the contracts below use.
(cd "$ROOT/contracts" && node build.cjs "$WORK/code") >/dev/null || fail "contracts/build.cjs could not compile the contracts"
REG="$WORK/registry"
"$COCOON" registry init "$REG" --owner-key "$WORK/regkey.pem" >/dev/null || fail "registry init"
"$COCOON" registry add "$REG" --model test-model --price-per-token 20 --worker-fee-per-token 19 \
  --min-client-stake 1000000000 --min-proxy-stake 2000000000 --client-delay-before-close 300 \
  --proxy-delay-before-close 600 >/dev/null || fail "registry add"
"$COCOON" registry root-data "$REG" --owner-address "$W_proxy" --code-dir "$WORK/code" --out "$WORK/root-data.boc" \
  >"$WORK/root-data.out" || fail "registry root-data"
node -e '
  const fs = require("fs");
  const [code, data] = [process.argv[1], process.argv[2]].map((f) => fs.readFileSync(f).toString("base64"));
  console.log(JSON.stringify({ code, data, amount: "1000000000" }));' "$WORK/code/root.boc" "$WORK/root-data.boc" >"$WORK/root.req"
ROOT_SC=$(curl -sf -X POST -H 'Content-Type: application/json' --data @"$WORK/root.req" "${TON%/api/v2}/localton/deploy" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).result;
    if(r.state!=="active")process.exit(1);console.log(r.address)})') || fail "deploy the root"
[ "$ROOT_SC" = "$(field address <"$WORK/root-data.out")" ] || fail "the root landed at $ROOT_SC, root-data says $(cat "$WORK/root-data.out")"
"$COCOON" ton root-info --endpoint "$TON" "$ROOT_SC" --summary >"$WORK/root-info.out" || fail "root-info"
grep -q ";price=20;fee=19;.*;delay=600,300;stake=2000000000,1000000000;" "$WORK/root-info.out" ||
  fail "the root's params are not the registry's: $(cat "$WORK/root-info.out")"
pass "root contract deployed from the registry file at $ROOT_SC"

# The proxy's key first (the contracts are bound to it), then the proxy, client and worker
# contracts under the root. The client's first deposit (0.4 TON) is below half its stake (1 TON).
"$COCOON" keygen --dir "$WORK/proxy-keys" >/dev/null || fail "keygen"
DEPOSIT0=400000000
STAKE=1000000000
node "$ROOT/tests/integration/ton/deploy_settle.cjs" "$TON" "$WORK/proxy-keys/key.pem" "$W_proxy" "$W_client" \
  "$W_worker" $DEPOSIT0 "$ROOT_SC" >"$WORK/deploy.out" 2>"$WORK/deploy.log" || fail "deploy: $(cat "$WORK/deploy.log")"
eval "$(grep -E '^[A-Z_]+=[0-9a-f:-]+$' "$WORK/deploy.out")"
[ -n "${CLIENT_SC:-}" ] && [ -n "${WORKER_SC:-}" ] && [ -n "${PROXY_SC:-}" ] || fail "deploy printed $(cat "$WORK/deploy.out")"
[ "$(gm "$CLIENT_SC" get_cocoon_client_data 4)" = $DEPOSIT0 ] || fail "client contract not topped up"
pass "contracts deployed under the root: proxy $PROXY_SC client $CLIENT_SC worker $WORKER_SC"

start_backend b1 --chunks 3
start_proxy proxy --settlement ton --toncenter-url "$TON" --ton-wallet-key "$WORK/proxy-wallet.key" \
  --ton-proxy-contract "$PROXY_SC" --ton-client-poll-ms 500 \
  --price-per-token 20 --worker-fee-per-token 19 --min-client-stake $STAKE \
  --ton-charge-threshold-nanoton 1 --ton-payout-threshold-nanoton -1 --ton-scan-ms 300 --payment-interval-ms 0
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
PHTTP=$(ready_get "$WORK/proxy.ready" http_url)
wallet_seen() { grep -q "ev=ton_wallet wallet=.* balance=5[0-9]\{9\} " "$WORK/proxy.log"; }
wait_until 10 wallet_seen || fail "the proxy did not report its wallet's balance"

start_worker w1 "$PADDR" "$BACKEND_URL_b1" --owner-address "$WORKER_SC" --toncenter-url "$TON" \
  --ton-wallet-key "$WORK/wsend-wallet.key" --ton-payout-threshold-nanoton 1 --ton-payout-check-ms 500
start_client client "$CADDR" --owner-address "$CLIENT_SC" --ton-wallet-key "$WORK/client-wallet.key" \
  --toncenter-url "$TON" --ton-message-ttl-s 900 --ton-topup-check-ms 1000
URL=$(ready_get "$WORK/client.ready" http_url)
CHTTP=$URL
models_ok() { curl -sf "$URL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 models_ok || fail "model never listed"

# The proxy credits the deposit it reads from the client contract; the client daemon sees its
# balance (0.4 TON) below half the stake and tops up one stake from its wallet, once; the proxy
# credits that too.
topped() { curl -sf "$CHTTP/jsonstats" | grep -q '"auto_topups":1,'; }
wait_until 30 topped || fail "no automatic top-up: $(curl -sf "$CHTTP/jsonstats" | grep -o '"ton":{[^}]*}')"
[ "$(gm "$CLIENT_SC" get_cocoon_client_data 4)" = $((DEPOSIT0 + STAKE)) ] || fail "client contract balance after the top-up: $(gm "$CLIENT_SC" get_cocoon_client_data 4)"
grep -q "ev=client_auto_topup balance=$DEPOSIT0 stake=$STAKE threshold=$((STAKE / 2)) amount=$STAKE" "$WORK/client.log" ||
  fail "no clear auto top-up log line: $(grep client_auto "$WORK/client.log")"
credited() { curl -sf "$PHTTP/jsonstats" | grep -q "\"deposited\":$((DEPOSIT0 + STAKE)),"; }
wait_until 20 credited || fail "the proxy did not credit the deposits: $(curl -sf "$PHTTP/jsonstats" | grep -o '"ton":{[^}]*}')"
grep -q "ev=client_credited" "$WORK/proxy.log" && fail "the proxy used local credit under ton settlement"
sleep 2
[ "$(grep -c 'ev=client_auto_topup ' "$WORK/client.log")" = 1 ] || fail "more than one automatic top-up"
pass "deposit read from the chain: $(grep -o 'ev=ton_client_credited [^ ]* deposit=[0-9]*' "$WORK/proxy.log" | paste -sd' '); one automatic top-up of $STAKE at balance $DEPOSIT0"

# A wallet that cannot pay says so: in the log and in the answer of /request/topup.
http GET "$URL/request/topup?proxy=$CADDR&amount=100000000000"
[ "$HTTP_STATUS" = 409 ] && echo "$HTTP_BODY" | grep -q "fund it" || fail "top-up beyond the wallet: $HTTP_STATUS $HTTP_BODY"
grep -q "ev=ton_wallet_low .*need=" "$WORK/client.log" || fail "no ton_wallet_low in the client's log"
pass "a wallet short of TON: $HTTP_STATUS $(echo "$HTTP_BODY" | grep -o '"error":"[^"]*"')"

# A contract with the client code and this proxy's address and key, but deployed with a made-up
# balance, is not the client contract the proxy contract derives for its owner: never credited.
node "$ROOT/tests/integration/ton/deploy_fake_client.cjs" "$TON" "$WORK/proxy-keys/key.pem" "$PROXY_SC" "$W_worker" \
  50000000000 >"$WORK/fake.out" 2>"$WORK/fake.log" || fail "deploy the fake client contract: $(cat "$WORK/fake.log")"
eval "$(grep -E '^FAKE_SC=[0-9a-f:-]+$' "$WORK/fake.out")"
[ "$(gm "$FAKE_SC" get_cocoon_client_data 4)" = 50000000000 ] || fail "fake client contract not deployed"
start_client fake "$CADDR" --owner-address "$FAKE_SC"
refused() { grep -q "ev=ton_client_refused owner=$FAKE_SC reason=\"not a client contract of this proxy: its address" "$WORK/proxy.log"; }
wait_until 20 refused || fail "the proxy did not refuse the fake client contract: $(grep "$FAKE_SC" "$WORK/proxy.log")"
[ -z "$(ledger_row client "$FAKE_SC")" ] || fail "the fake client contract was credited: $(ledger_row client "$FAKE_SC")"
FURL=$(ready_get "$WORK/fake.ready" http_url)
BODY='{"model":"test-model","max_tokens":20,"max_coefficient":1000,"messages":[{"role":"user","content":"x"}]}'
http POST "$FURL/v1/chat/completions" "$BODY"
[ "$HTTP_STATUS" != 200 ] || fail "the fake client contract was served"
pass "a client contract deployed with a made-up balance is refused: $(grep -o 'ev=ton_client_refused [^"]*"[^"]*"' "$WORK/proxy.log" | head -1 | cut -c1-150)"

for i in 1 2 3 4; do
  http POST "$URL/v1/chat/completions" "$BODY"
  [ "$HTTP_STATUS" = 200 ] || fail "request $i: $HTTP_STATUS $HTTP_BODY"
done
pass "4 requests served"

# The ledger's figures (`cocoon ledger show`: kind owner balance stake tokens ...).
nano() { echo "$1" | tr -d . | sed 's/^0*//; s/^$/0/'; }
landed() {
  local c w
  c=$(ledger_row client "$CLIENT_SC" | awk '{print $5}')
  w=$(ledger_row worker "$WORKER_SC" | awk '{print $5}')
  [ -n "$c" ] && [ "$c" -gt 0 ] && [ "$(gm "$CLIENT_SC" get_cocoon_client_data 6)" = "$c" ] &&
    [ -n "$w" ] && [ "$(gm "$WORKER_SC" get_cocoon_worker_data 4)" = "$w" ]
}
wait_until 60 landed || fail "the charge and payout did not land: ledger $(ledger_row client "$CLIENT_SC") / $(ledger_row worker "$WORKER_SC"); chain client $(gm "$CLIENT_SC" get_cocoon_client_data 6) worker $(gm "$WORKER_SC" get_cocoon_worker_data 4); proxy $(curl -sf "$PHTTP/jsonstats" | grep -o '"ton":{[^}]*}')"
# The worker daemon submitted its payouts itself (the proxy's payout policy is off).
WJ=$(curl -sf "$(ready_get "$WORK/w1.ready" http_url)/jsonstats")
echo "$WJ" | grep -q '"ton":{[^}]*"landed":[1-9]' || fail "the worker did not submit its payout: $(echo "$WJ" | grep -o '"ton":{[^}]*}')"
grep -q "ev=worker_payout_landed chain_tokens=" "$WORK/w1.log" || fail "no worker_payout_landed in the worker's log"
grep -q "ev=ton_submit kind=payout" "$WORK/proxy.log" && fail "the proxy submitted a payout with its policy off"
J=$(curl -sf "$PHTTP/jsonstats")
[ "$(jnum "$J" failed)" = 0 ] || fail "submissions failed: $(echo "$J" | grep -o '"ton":{[^}]*}')"
CROW=$(ledger_row client "$CLIENT_SC"); WROW=$(ledger_row worker "$WORKER_SC")
CTOK=$(echo "$CROW" | awk '{print $5}'); CBAL=$(nano "$(echo "$CROW" | awk '{print $3}')")
WTOK=$(echo "$WROW" | awk '{print $5}'); WBAL=$(nano "$(echo "$WROW" | awk '{print $3}')")
# Client: the contract's balance is the deposits less every charge, as in the ledger.
TOPUP=$((DEPOSIT0 + STAKE))
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
# The proxy reads the contract closing: the refund leaves the ledger, /jsonstats shows it, and the
# client gets no new requests.
closing_seen() { curl -sf "$PHTTP/jsonstats" | grep -q '"clients_closing":1,'; }
wait_until 20 closing_seen || fail "the proxy did not see the contract closing: $(curl -sf "$PHTTP/jsonstats" | grep -o '"ton":{[^}]*}')"
grep -q "ev=ton_client_closing owner=$CLIENT_SC" "$WORK/proxy.log" || fail "no ton_client_closing log line"
curl -sf "$PHTTP/jsonstats" | grep -q '"state":"closing"' || fail "the client's state is not in /jsonstats"
[ "$(ledger_row client "$CLIENT_SC" | awk '{print $3}' | tr -d . | sed 's/^0*//')" = $STAKE ] ||
  fail "ledger balance after the refund of the excess: $(ledger_row client "$CLIENT_SC")"
http POST "$URL/v1/chat/completions" "$BODY"
[ "$HTTP_STATUS" != 200 ] && echo "$HTTP_BODY" | grep -q "closing" || fail "a closing client was served: $HTTP_STATUS $HTTP_BODY"
pass "the proxy saw the contract closing: ledger balance = stake, request refused ($HTTP_STATUS)"
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
closed_seen() { curl -sf "$PHTTP/jsonstats" | grep -q '"clients_closed":1,'; }
wait_until 20 closed_seen || fail "the proxy did not see the contract closed: $(curl -sf "$PHTTP/jsonstats" | grep -o '"ton":{[^}]*}')"
[ "$(ledger_row client "$CLIENT_SC" | awk '{print $3}' | tr -d . | sed 's/^0*//; s/^$/0/')" = 0 ] ||
  fail "ledger balance after the close: $(ledger_row client "$CLIENT_SC")"
pass "client closed its contract: refunded $((CBAL - 1000000000)) at once and its stake 1000000000 after the close delay = the ledger balance $CBAL"

# The ledger with its on-chain marks still verifies (every row's MAC, the billing invariants).
"$COCOON" ledger verify "$WORK/proxy-keys/ledger.db" --key-file "$WORK/proxy-keys/key.pem" >"$WORK/verify.out" 2>&1 ||
  fail "ledger verify: $(cat "$WORK/verify.out")"
pass "ledger verifies: $(head -1 "$WORK/verify.out")"
