#!/usr/bin/env bash
# test_localton: the C chain client against a local TON (tools/localton: toncenter v2 on
# @ton/sandbox, real TVM): wallets v4r2 and v5r1 deployed and used with transfers signed in C,
# balances and seqno read back, a replayed external not applied twice, the API key enforced,
# delayed application waited for, an expired message reported.
# SPDX-License-Identifier: Apache-2.0
# Usage: test_localton.sh COCOON [unused]
set -euo pipefail

COCOON=$(realpath "${1:?path to cocoon binary}")
DIR=$(cd "$(dirname "$0")/../../tools/localton" && pwd)
WORK=$(mktemp -d /tmp/cocoon-localton.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$WORK"/*.err; do [ -s "$f" ] && { echo "== $f" >&2; tail -20 "$f" >&2; }; done
  exit 1
}
pass() { echo "ok: $*"; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node and npm are not installed; the local TON cannot run"
  exit 0
fi
if [ ! -d "$DIR/node_modules/@ton/sandbox" ]; then
  echo "installing the pinned local TON packages (npm ci) in $DIR"
  (cd "$DIR" && npm ci --no-audit --no-fund) || fail "npm ci failed in $DIR"
fi

# start_server NAME ARGS...: sets URL to the server's base URL (its first stdout line).
start_server() {
  local name=$1; shift
  (cd "$DIR" && exec node server.cjs 0 "$@") >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  for _ in $(seq 1 600); do
    URL=$(head -1 "$WORK/$name.out" 2>/dev/null || true)
    [ -n "$URL" ] && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || fail "server $name exited"
    sleep 0.1
  done
  [ -n "$URL" ] || fail "server $name did not print its URL"
  case "$URL" in http://127.0.0.1:*/api/v2) ;; *) fail "server $name is not on loopback: $URL" ;; esac
}
fund() { # fund BASEURL ADDR NANO
  curl -sf -X POST -H 'Content-Type: application/json' -d "{\"address\":\"$2\",\"amount\":\"$3\"}" "${1%/api/v2}/localton/fund" \
    >/dev/null || fail "fund $2"
}
field() { sed -n "s/^$1: //p" | head -1; }

KEYFILE="$WORK/api.key"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$KEYFILE"
export TONCENTER_API_KEY=
start_server main --api-key "$(cat "$KEYFILE")"
MAIN=$URL
A="--endpoint $MAIN --api-key-file $KEYFILE"
DEST=0:$(printf 'cd%.0s' $(seq 32))

# 1. The API key is required, and its refusal is reported clearly.
set +e
"$COCOON" ton balance --endpoint "$MAIN" "$DEST" >/dev/null 2>"$WORK/nokey.txt"; rc=$?
set -e
[ $rc = 1 ] && grep -q "HTTP 401" "$WORK/nokey.txt" || fail "no API key: rc $rc $(cat "$WORK/nokey.txt")"
grep -q "$(cat "$KEYFILE")" "$WORK/nokey.txt" && fail "the API key appears in an error"
pass "requests without the API key are refused: $(cat "$WORK/nokey.txt")"

expected_dest=0
for W in v4r2 v5r1; do
  K="$WORK/$W.key"
  "$COCOON" ton wallet-key --out "$K" --wallet "$W" >"$WORK/$W.keyinfo" || fail "wallet-key $W"
  [ "$(stat -c %a "$K")" = 600 ] || fail "key file mode $(stat -c %a "$K")"
  SEED=$(tr -d '\n' <"$K")
  ADDR=$(field address <"$WORK/$W.keyinfo")
  # The wallet does not exist yet; the first transfer deploys it.
  info=$("$COCOON" ton wallet-info $A --key "$K" --wallet "$W") || fail "wallet-info $W"
  [ "$(echo "$info" | field state)" = uninitialized ] || fail "$W: new wallet state: $info"
  [ "$(echo "$info" | field address)" = "$ADDR" ] || fail "$W: address differs from wallet-key's"
  set +e
  "$COCOON" ton wallet-send $A --key "$K" --wallet "$W" --to "$DEST" --amount 1000 >/dev/null 2>"$WORK/poor.txt"; rc=$?
  set -e
  [ $rc = 1 ] && grep -q "fund it first" "$WORK/poor.txt" || fail "$W: unfunded send: rc $rc $(cat "$WORK/poor.txt")"
  FUND=3000000000
  fund "$MAIN" "$ADDR" $FUND
  out=$("$COCOON" ton wallet-send $A --key "$K" --wallet "$W" --to "$DEST" --amount 500000000 --boc-out "$WORK/$W.tx1.boc" 2>"$WORK/$W.send1.err") \
    || fail "$W: first transfer: $(cat "$WORK/$W.send1.err")"
  echo "$out" | grep -q '^deploy: yes' || fail "$W: first transfer did not carry the StateInit: $out"
  echo "$out" | grep -q '^applied: lt ' || fail "$W: first transfer not applied: $out"
  expected_dest=$((expected_dest + 500000000))
  info=$("$COCOON" ton wallet-info $A --key "$K" --wallet "$W") || fail "wallet-info $W"
  [ "$(echo "$info" | field state)" = active ] || fail "$W: not deployed: $info"
  [ "$(echo "$info" | field seqno)" = 1 ] || fail "$W: seqno after one transfer: $info"
  bal1=$(echo "$info" | field balance)
  # The wallet paid the amount plus fees (a few hundredths of a TON at most).
  [ "$bal1" -lt $((FUND - 500000000)) ] && [ "$bal1" -gt $((FUND - 500000000 - 50000000)) ] || fail "$W: balance $bal1"
  # 2. A replayed external message is not applied twice.
  set +e
  "$COCOON" ton send-boc $A "$WORK/$W.tx1.boc" >/dev/null 2>"$WORK/$W.replay.txt"; rc=$?
  set -e
  [ $rc = 1 ] && grep -q "not accepted" "$WORK/$W.replay.txt" || fail "$W: replay: rc $rc $(cat "$WORK/$W.replay.txt")"
  info=$("$COCOON" ton wallet-info $A --key "$K" --wallet "$W") || fail "wallet-info $W"
  [ "$(echo "$info" | field seqno)" = 1 ] && [ "$(echo "$info" | field balance)" = "$bal1" ] || fail "$W: replay changed the wallet: $info"
  # 3. A second transfer with a comment; seqno through runGetMethod.
  out=$("$COCOON" ton wallet-send $A --key "$K" --wallet "$W" --to "$DEST" --amount 250000000 --comment "cocoon $W" 2>"$WORK/$W.send2.err") \
    || fail "$W: second transfer: $(cat "$WORK/$W.send2.err")"
  echo "$out" | grep -q '^deploy: no' || fail "$W: second transfer carried a StateInit"
  expected_dest=$((expected_dest + 250000000))
  gm=$("$COCOON" ton get-method $A "$ADDR" seqno) || fail "$W: get-method seqno"
  [ "$(echo "$gm" | sed -n 's/^0: num //p')" = 2 ] || fail "$W: seqno after two transfers: $gm"
  # The wallet's history: the faucet's credit and two transfers (the replay left no trace),
  # the same whether read in one page or in pages of two (each repeating the previous last).
  "$COCOON" ton transactions $A "$ADDR" --limit 10 >"$WORK/$W.txs10" || fail "$W: transactions"
  "$COCOON" ton transactions $A "$ADDR" --limit 2 >"$WORK/$W.txs2" || fail "$W: transactions in pages"
  cmp -s "$WORK/$W.txs10" "$WORK/$W.txs2" || fail "$W: paging differs: $(cat "$WORK/$W.txs2")"
  grep -q '^transactions: 3$' "$WORK/$W.txs10" || fail "$W: history: $(cat "$WORK/$W.txs10")"
  [ "$(grep -c ' in external ' "$WORK/$W.txs10")" = 2 ] && [ "$(grep -c ' in internal value 3000000000 body ' "$WORK/$W.txs10")" = 1 ] \
    || fail "$W: history kinds: $(cat "$WORK/$W.txs10")"
  # The private key never shows up in any output.
  cat "$WORK"/*.txt "$WORK"/*.err "$WORK/$W.keyinfo" | grep -qi "$SEED" && fail "$W: the private key appears in an output"
  pass "$W: deployed by its first transfer, seqno 2 after two transfers, replay refused, balance $bal1 after the first"
done

# The destination (never deployed) received the four transfers; an uninitialized account
# pays storage from what it holds, so allow a few nano-TON.
dest=$("$COCOON" ton balance $A "$DEST" | field balance)
[ "$dest" -le $expected_dest ] && [ "$dest" -ge $((expected_dest - 1000)) ] || fail "destination balance $dest, expected about $expected_dest"
pass "destination balance $dest (sent $expected_dest)"

# 4. Delayed application: sendBoc answers at once, the transaction lands 1.5 s later; the
# client keeps polling until it sees it.
start_server slow --delay-ms 1500
SLOW=$URL
K="$WORK/slow.key"
"$COCOON" ton wallet-key --out "$K" --wallet v4r2 >"$WORK/slow.keyinfo"
ADDR=$(field address <"$WORK/slow.keyinfo")
fund "$SLOW" "$ADDR" 2000000000
t0=$(date +%s%N)
out=$("$COCOON" ton wallet-send --endpoint "$SLOW" --key "$K" --wallet v4r2 --to "$DEST" --amount 100000000 2>"$WORK/slow.err") \
  || fail "delayed transfer: $(cat "$WORK/slow.err")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "$out" | grep -q '^applied' && [ $ms -ge 1400 ] || fail "delayed transfer: $out after $ms ms"
pass "a delayed transfer is waited for ($ms ms)"

# 5. Expiry: the message lands after valid_until, the wallet refuses it, and the client says so.
start_server late --delay-ms 4000
LATE=$URL
fund "$LATE" "$ADDR" 2000000000
set +e
"$COCOON" ton wallet-send --endpoint "$LATE" --key "$K" --wallet v4r2 --to "$DEST" --amount 100000000 --ttl 2 >/dev/null 2>"$WORK/late.txt"; rc=$?
set -e
[ $rc = 1 ] && grep -q "expired" "$WORK/late.txt" || fail "expired transfer: rc $rc $(cat "$WORK/late.txt")"
sleep 3
"$COCOON" ton balance --endpoint "$LATE" "$ADDR" | grep -q '^state: uninitialized' || fail "an expired deploy was applied"
pass "an expired message is reported: $(cat "$WORK/late.txt")"
# 6. The root contract's state read from the chain: a root data cell made by @ton/core (the
# oracle generator's root_data cases) is deployed under empty code, and `cocoon ton root-info`
# must give the same summary of every field.
ORACLE=$(cd "$(dirname "$0")/../ton" && pwd)
if [ ! -d "$ORACLE/node_modules/@ton/ton" ]; then
  (cd "$ORACLE" && npm ci --no-audit --no-fund) || fail "npm ci failed in $ORACLE"
fi
(cd "$ORACLE" && node gen.cjs 11) >"$WORK/cases.jsonl" || fail "oracle generator"
grep '"kind":"root_data"' "$WORK/cases.jsonl" | sed -n 1,3p >"$WORK/roots.jsonl"
[ "$(wc -l <"$WORK/roots.jsonl")" = 3 ] || fail "no root_data cases from the generator"
n=0
while read -r line; do
  n=$((n + 1))
  echo "$line" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);
    process.stdout.write(JSON.stringify({code:"te6cckEBAQEAAgAAAEysuc0=",data:Buffer.from(j.boc,"hex").toString("base64"),amount:"1000000000"})+"\n");
    require("fs").writeFileSync(process.argv[1], j.summary+"\n");})' "$WORK/root$n.want" >"$WORK/root$n.req"
  RA=$(curl -sf -X POST -H 'Content-Type: application/json' --data @"$WORK/root$n.req" "${MAIN%/api/v2}/localton/deploy" \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).result;
      if(r.state!=="active")process.exit(1);console.log(r.address)})') || fail "deploy root $n"
  "$COCOON" ton root-info $A "$RA" --summary >"$WORK/root$n.got" || fail "root-info $n"
  cmp -s "$WORK/root$n.want" "$WORK/root$n.got" || fail "root $n: got $(cat "$WORK/root$n.got") want $(cat "$WORK/root$n.want")"
done <"$WORK/roots.jsonl"
"$COCOON" ton root-info $A "$RA" | grep -q '^proxies: ' || fail "root-info without --summary"
# A COCOON owner message made by @ton/core (a client top-up) as the body of a wallet transfer
# to the last root account: it arrives with that body.
(cd "$ORACLE" && node -e 'const {beginCell,Address}=require("@ton/core");
  const c = beginCell().storeUint(0xf172e6c2, 32).storeUint(77, 64).storeCoins(123456789n)
    .storeAddress(Address.parseRaw(process.argv[1])).endCell();
  require("fs").writeFileSync(process.argv[2], c.toBoc()); console.log(c.hash().toString("hex"));' \
  "$(field address <"$WORK/v5r1.keyinfo")" "$WORK/topup.boc") >"$WORK/topup.hash"
"$COCOON" ton wallet-send $A --key "$WORK/v5r1.key" --wallet v5r1 --to "$RA" --amount 200000000 --bounce \
  --body-boc "$WORK/topup.boc" >/dev/null 2>"$WORK/topup.err" || fail "transfer with a body: $(cat "$WORK/topup.err")"
"$COCOON" ton transactions $A "$RA" | grep -q " in internal value 200000000 body $(cat "$WORK/topup.hash") " \
  || fail "the top-up body did not arrive: $("$COCOON" ton transactions $A "$RA")"
set +e
"$COCOON" ton root-info $A "$DEST" >/dev/null 2>"$WORK/noroot.txt"; rc=$?
set -e
[ $rc = 1 ] && grep -q "not deployed" "$WORK/noroot.txt" || fail "root-info of an undeployed account: rc $rc $(cat "$WORK/noroot.txt")"
pass "root contract state read through getAddressInformation equals @ton/core's ($n roots)"
# 7. The real root contract (contracts/root.tolk, when this checkout has it and its packages):
# deployed on the local TON, read through its data cell and through get_cocoon_data.
CONTRACTS=${COCOON_CONTRACTS_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/contracts}
if [ -f "$CONTRACTS/build.cjs" ] && [ -d "$CONTRACTS/node_modules/@ton/tolk-js" ]; then
  OWNER=0:$(printf '42%.0s' $(seq 32))
  (cd "$CONTRACTS" && node -e '
    const c = require("./build.cjs");
    const h = (b) => Buffer.alloc(32, b);
    c.contractBocs("root", { owner: process.argv[1], proxyHashes: [h(1), h(2)], workerHashes: [h(3)],
        modelHashes: [h(4), h(5), h(6)], proxies: ["10.0.0.1:8888", "10.0.0.2:8888 10.0.0.2:8889"],
        params: { pricePerToken: 20n, workerFeePerToken: 19n, uniqueId: 239, paramsVersion: 7 }, version: 3 })
      .then((r) => console.log(JSON.stringify({ code: r.codeBoc64, data: r.dataBoc64, amount: "1000000000", address: r.address })));
  ' "$OWNER") >"$WORK/realroot.req" || fail "contracts/build.cjs could not build the root"
  RR=$(curl -sf -X POST -H 'Content-Type: application/json' --data @"$WORK/realroot.req" "${MAIN%/api/v2}/localton/deploy" \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).result;
      if(r.state!=="active")process.exit(1);console.log(r.address)})') || fail "deploy the real root"
  grep -q "\"address\":\"$RR\"" "$WORK/realroot.req" || fail "the root landed at another address than build.cjs says"
  "$COCOON" ton root-info $A "$RR" >"$WORK/realroot.data" || fail "root-info of the real root"
  "$COCOON" ton root-info $A "$RR" --get >"$WORK/realroot.get" 2>"$WORK/realroot.err" || fail "root-info --get: $(cat "$WORK/realroot.err")"
  for want in "owner: $OWNER" "version: 3" "params_version: 7" "unique_id: 239" "price_per_token: 20" \
              "worker_fee_per_token: 19" "last_proxy_seqno: 2" "min_stake: proxy 1000000000 client 1000000000"; do
    grep -qx "$want" "$WORK/realroot.data" || fail "root data: no '$want' in $(cat "$WORK/realroot.data")"
    grep -qx "$want" "$WORK/realroot.get" || fail "get_cocoon_data: no '$want' in $(cat "$WORK/realroot.get")"
  done
  grep -qx "proxy_hashes: 2" "$WORK/realroot.data" && grep -qx "model_hashes: 3" "$WORK/realroot.data" \
    && grep -qx "  2 10.0.0.2:8888 10.0.0.2:8889" "$WORK/realroot.data" || fail "root lists: $(cat "$WORK/realroot.data")"
  pass "the real root contract reads the same through its data cell and get_cocoon_data"
else
  echo "note: contracts/ or its node_modules is absent; the real root contract check is skipped"
fi
echo "all local TON checks passed"
