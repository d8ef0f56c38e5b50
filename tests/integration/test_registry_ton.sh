#!/usr/bin/env bash
# test_registry_ton: the registry from the TON root contract: `cocoon registry root-data` equals
# contracts/build.cjs's data; the real Tolk root deployed with it on the local TON governs a
# sim-attested proxy and worker; owner messages sent from a C wallet (add/remove the worker's
# image, register the proxy) are picked up without a restart; an unreachable chain keeps the
# registry in force.
# SPDX-License-Identifier: Apache-2.0
# Usage: test_registry_ton.sh COCOON BACKEND
ROOTDIR=$(cd "$(dirname "$0")/../.." && pwd)
CONTRACTS=${COCOON_CONTRACTS_DIR:-$ROOTDIR/contracts}
LOCALTON=$ROOTDIR/tools/localton
if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node is not installed; the local TON cannot run"
  exit 0
fi
if [ ! -f "$CONTRACTS/build.cjs" ] || [ ! -d "$CONTRACTS/node_modules/@ton/tolk-js" ]; then
  echo "SKIP: contracts/ or contracts/node_modules is missing (npm ci in contracts/); the root contract cannot be built"
  exit 0
fi
if [ ! -d "$LOCALTON/node_modules/@ton/sandbox" ]; then
  echo "SKIP: tools/localton/node_modules is missing (npm ci in tools/localton); the local TON cannot run"
  exit 0
fi
source "$(dirname "$0")/lib.sh"

PLATFORM="$WORK/platform.pem"
REG="$WORK/registry"
SIM=(--policy sim --quote-provider sim --sim-platform-key "$PLATFORM")
CHAT='{"model":"test-model","messages":[{"role":"user","content":"x"}]}'
own_hash() { sed -n 's/.*ev=node_identity .*image_hash=\([0-9a-f]\{64\}\).*/\1/p' "$WORK/$1.log" | head -1; }
log_has() { grep -q -- "$2" "$WORK/$1.log"; }
jsonstats() { curl -sf "$(ready_get "$WORK/$1.ready" http_url)/jsonstats"; }
field() { sed -n "s/^$1: //p" | head -1; }

# 0. The local TON, with an API key, and the compiled contracts.
APIKEY=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
(cd "$LOCALTON" && exec node server.cjs 0 --api-key "$APIKEY") >"$WORK/localton.out" 2>"$WORK/localton.log" &
PIDS+=($!)
LT_PID=$!
for _ in $(seq 1 600); do
  URL=$(head -1 "$WORK/localton.out" 2>/dev/null || true)
  [ -n "$URL" ] && break
  kill -0 $LT_PID 2>/dev/null || fail "localton exited"
  sleep 0.1
done
[ -n "$URL" ] || fail "localton did not print its URL"
BASE=${URL%/api/v2}
(cd "$CONTRACTS" && node build.cjs "$WORK/code") >/dev/null || fail "contracts/build.cjs could not compile the contracts"
echo "$APIKEY" >"$WORK/api.key"
A=(--endpoint "$URL" --api-key-file "$WORK/api.key")
TON=(--toncenter-url "$URL" --toncenter-api-key "$APIKEY")

# 1. The owner: a C wallet (deployed by its first transfer).
"$COCOON" ton wallet-key --out "$WORK/owner.key" --wallet v4r2 >"$WORK/owner.info" || fail "wallet-key"
OWNER=$(field address <"$WORK/owner.info")
curl -sf -X POST -H 'Content-Type: application/json' -d "{\"address\":\"$OWNER\",\"amount\":\"5000000000\"}" \
  "$BASE/localton/fund" >/dev/null || fail "fund the owner wallet"
"$COCOON" ton wallet-send "${A[@]}" --key "$WORK/owner.key" --wallet v4r2 --to "$OWNER" --amount 1000 >/dev/null 2>&1 ||
  fail "deploy the owner wallet"

# 2. root-data against the oracle (contracts/build.cjs from the same file): a registry with
#    every kind of entry, then the one deployed (only the model listed).
"$COCOON" registry init "$WORK/big" --owner-key "$WORK/regkey.pem" >/dev/null
args=()
for i in $(seq 1 40); do args+=(--worker-image "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"); done
for i in $(seq 1 9); do args+=(--proxy-addr "10.0.0.$i:$((7000 + i)),10.0.0.$i:$((8000 + i))"); done
args+=(--proxy-image "$(printf '00%.0s' $(seq 32))" --proxy-image "$(printf 'ff%.0s' $(seq 32))" --model test-model
  --price-per-token 20 --worker-fee-per-token 7 --cached-multiplier 2500 --min-client-stake 123456789)
"$COCOON" registry add "$WORK/big" "${args[@]}" >/dev/null || fail "registry add"
"$COCOON" registry init "$REG" --owner-key "$WORK/regkey.pem" --force >/dev/null
"$COCOON" registry add "$REG" --model test-model >/dev/null
for f in big registry; do
  got=$("$COCOON" registry root-data "$WORK/$f" --owner-address "$OWNER" --code-dir "$WORK/code" --out "$WORK/$f.boc" |
    field data_hash) || fail "root-data $f"
  want=$(cd "$CONTRACTS" && node "$ROOTDIR/tests/integration/registry_root_data.cjs" . "$WORK/$f" "$OWNER" | field data_hash) ||
    fail "oracle $f"
  [ -n "$got" ] && [ "$got" = "$want" ] || fail "root-data $f: C $got, contracts/build.cjs $want"
done
"$COCOON" registry root-data "$WORK/big" --owner-address nonsense 2>"$WORK/bad.err" && fail "root-data took a bad owner"
grep -q 'owner-address' "$WORK/bad.err" || fail "bad owner not named: $(cat "$WORK/bad.err")"
pass "registry root-data equals contracts/build.cjs's root data ($want)"

# 3. Deploy the real root contract with that data.
node -e '
  const fs = require("fs");
  const [code, data] = [process.argv[1], process.argv[2]].map((f) => fs.readFileSync(f).toString("base64"));
  console.log(JSON.stringify({ code, data, amount: "1000000000" }));' "$WORK/code/root.boc" "$WORK/registry.boc" >"$WORK/deploy.req"
ROOT=$(curl -sf -X POST -H 'Content-Type: application/json' --data @"$WORK/deploy.req" "$BASE/localton/deploy" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).result;
    if(r.state!=="active")process.exit(1);console.log(r.address)})') || fail "deploy the root"
"$COCOON" ton root-info "${A[@]}" "$ROOT" | grep -qx 'version: 1' || fail "deployed root is not version 1"
want=$("$COCOON" registry root-data "$REG" --owner-address "$OWNER" --code-dir "$WORK/code" | field address)
[ "$ROOT" = "$want" ] || fail "the root landed at $ROOT, root-data says $want"
REGT=(--registry-ton-root "$ROOT" "${TON[@]}")
# owner_op OP HASH: an owner message to the root (op query_id hash:uint256), built by @ton/core,
# sent from the C wallet, waited for until applied.
QID=1
owner_op() {
  QID=$((QID + 1))
  (cd "$CONTRACTS" && node -e '
    const { beginCell } = require("@ton/core");
    const [op, qid, h, out] = process.argv.slice(1);
    require("fs").writeFileSync(out, beginCell().storeUint(Number(op), 32).storeUint(BigInt(qid), 64)
      .storeUint(BigInt("0x" + h), 256).endCell().toBoc());' "$1" "$QID" "$2" "$WORK/op.boc") || fail "build op $1"
  "$COCOON" ton wallet-send "${A[@]}" --key "$WORK/owner.key" --wallet v4r2 --to "$ROOT" --amount 100000000 \
    --body-boc "$WORK/op.boc" >"$WORK/op.out" 2>&1 || fail "owner op $1: $(cat "$WORK/op.out")"
}
OP_ADD_WORKER=0xe34b1c60
OP_DEL_WORKER=0x8d94a79a
OP_ADD_PROXY=0x71860e80

# 4. A node refuses both sources at once, and an unreachable chain at start.
if "$COCOON" proxy "${SIM[@]}" "${REGT[@]}" --registry "$REG" --registry-owner "$(printf '00%.0s' $(seq 32))" \
  --worker-listen 127.0.0.1:0 --client-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 2>"$WORK/both.log"; then
  fail "proxy started with a file and a root contract"
fi
grep -q 'both set; use one' "$WORK/both.log" || fail "two sources not named: $(cat "$WORK/both.log")"
if timeout 30 "$COCOON" proxy "${SIM[@]}" --registry-ton-root "$ROOT" --toncenter-url http://127.0.0.1:1/api/v2 \
  --worker-listen 127.0.0.1:0 --client-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 2>"$WORK/dead.log"; then
  fail "proxy started without its registry"
fi
grep -q "registry $ROOT.*\|registry ${ROOT:0:40}" "$WORK/dead.log" || fail "unreachable chain not named: $(cat "$WORK/dead.log")"
# An account that is not a root contract (the owner's wallet) is a bad answer, named as such.
if timeout 30 "$COCOON" proxy "${SIM[@]}" --registry-ton-root "$OWNER" "${TON[@]}" \
  --worker-listen 127.0.0.1:0 --client-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 2>"$WORK/notroot.log"; then
  fail "proxy started on a wallet as its root contract"
fi
grep -q "root data: " "$WORK/notroot.log" || fail "a non-root account not named: $(cat "$WORK/notroot.log")"
pass "config errors named: $(grep -o 'registry .*' "$WORK/dead.log" | head -1); $(grep -o 'root data: .*' "$WORK/notroot.log" | head -1)"

# 5. The proxy on the root (v1); the owner lists its image (v2); a worker off the list is refused.
start_proxy proxy "${SIM[@]}" "${REGT[@]}"
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
PH=$(own_hash proxy)
[ -n "$PH" ] || fail "proxy logged no image hash"
jsonstats proxy | grep -q "\"registry\":{\"source\":\"ton root $ROOT via $URL\",\"version\":1," ||
  fail "proxy /jsonstats lacks the root's v1: $(jsonstats proxy)"
owner_op $OP_ADD_PROXY "$PH"
wait_until 10 log_has proxy 'ev=registry_reloaded .*version=2' || fail "proxy did not pick up v2 from the chain"
start_backend b1 --chunks 3
start_worker good "$PADDR" "$BACKEND_URL_b1" "${SIM[@]}" "${REGT[@]}"
GOODH=$(own_hash good)
wait_until 10 log_has good 'ev=registry_loaded .*version=2' || fail "worker did not load v2 from the chain"
wait_until 15 log_has proxy "image hash $GOODH not in registry v2 worker images (0 allowed)" ||
  fail "worker off the root's list not refused"
pass "proxy and worker on the root contract; worker $GOODH refused while unlisted"

# 6. The owner lists the worker's image (v3): accepted without restart; a request flows.
owner_op $OP_ADD_WORKER "$GOODH"
wait_until 10 log_has proxy 'ev=registry_reloaded .*version=3' || fail "proxy did not pick up v3"
good_in() { jsonstats proxy | grep -q "\"image_hash\":\"$GOODH\""; }
wait_until 25 good_in || fail "worker not accepted after v3: $(jsonstats proxy)"
start_client c1 "$CADDR" "${SIM[@]}"
CURL=$(ready_get "$WORK/c1.ready" http_url)
models_ok() { curl -sf "$CURL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 models_ok || fail "client never listed the model: $(jsonstats c1)"
http POST "$CURL/v1/chat/completions" "$CHAT"
[ "$HTTP_STATUS" = 200 ] || fail "chat $HTTP_STATUS $HTTP_BODY"
pass "owner message adding the worker's image picked up (v3); client -> proxy -> worker served"

# 7. The owner removes it (v4): the proxy drops the worker and says why.
owner_op $OP_DEL_WORKER "$GOODH"
wait_until 10 log_has proxy "ev=worker_dropped .*reason=\"image hash $GOODH no longer in registry v4 worker images\"" ||
  fail "proxy kept a worker the root no longer lists"
wait_until 10 bash -c "! curl -sf '$(ready_get "$WORK/proxy.ready" http_url)/jsonstats' | grep -q '\"image_hash\":\"$GOODH\"'" ||
  fail "worker still listed after v4"
grep -q "$APIKEY" "$WORK"/*.log "$WORK/proxy.out" && fail "the toncenter API key appears in a log"
pass "owner message removing the worker's image picked up (v4); worker dropped with the reason"

# 8. The owner registers the proxy (v5: register_proxy, "workers' clients'" addresses): a client
#    started without --proxy finds it through the root.
(cd "$CONTRACTS" && node -e '
  const { beginCell } = require("@ton/core");
  const [qid, ep, out] = process.argv.slice(1);
  require("fs").writeFileSync(out, beginCell().storeUint(0x927c7cb5, 32).storeUint(BigInt(qid), 64)
    .storeUint(0, 1).storeUint(Buffer.byteLength(ep), 7).storeBuffer(Buffer.from(ep)).endCell().toBoc());' \
  99 "$PADDR $CADDR" "$WORK/reg.boc") || fail "build register_proxy"
"$COCOON" ton wallet-send "${A[@]}" --key "$WORK/owner.key" --wallet v4r2 --to "$ROOT" --amount 100000000 \
  --body-boc "$WORK/reg.boc" >"$WORK/op.out" 2>&1 || fail "register_proxy: $(cat "$WORK/op.out")"
wait_until 10 log_has proxy 'ev=registry_reloaded .*version=5' || fail "proxy did not pick up v5"
start c2 "$COCOON" client --http-listen 127.0.0.1:0 --key-dir "$WORK/c2-keys" --ready-file "$WORK/c2.ready" \
  "${SIM[@]}" "${REGT[@]}"
wait_ready "$WORK/c2.ready"
jsonstats c2 | grep -q "\"address\":\"$CADDR\"" || fail "client did not take the proxy's address from the root: $(jsonstats c2)"
c2_ready() { jsonstats c2 | grep -q '"state":"ready"'; }
wait_until 15 c2_ready || fail "client on the root's proxy address not connected: $(jsonstats c2)"
pass "proxy registered on the root (v5); a client without --proxy connects to it"

# 9. The chain goes away: the registry in force stays, the error shows in /jsonstats; the key
#    directory remembers version 4.
kill $LT_PID; wait $LT_PID 2>/dev/null || true
wait_until 15 log_has proxy 'ev=registry_rejected .*keeping_version=5 reason="toncenter' || fail "lost chain not logged"
jsonstats proxy | grep -q '"version":5,.*"last_error":"toncenter' || fail "/jsonstats lacks the chain error: $(jsonstats proxy)"
[ "$(cat "$WORK/proxy-keys/registry_version")" = 5 ] || fail "version floor not recorded"
# The failure is reported when it starts, not at every poll.
n1=$(grep -c 'ev=registry_rejected' "$WORK/proxy.log")
sleep 3
n2=$(grep -c 'ev=registry_rejected' "$WORK/proxy.log")
[ "$n1" -le 2 ] && [ "$n1" = "$n2" ] || fail "the same failure is logged again and again ($n1, then $n2)"
pass "unreachable chain: version 5 kept, error in /jsonstats: $(jsonstats proxy | grep -o '"last_error":"[^"]*"')"
