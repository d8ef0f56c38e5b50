#!/usr/bin/env bash
# test_ton_oracle: src/ton against @ton/core/@ton/ton: generated cases rebuilt in C must match
# byte for byte; the `cocoon ton` commands agree with the oracle and fail cleanly.
# SPDX-License-Identifier: Apache-2.0
# Usage: test_ton_oracle.sh COCOON [unused]
set -euo pipefail

COCOON=$(realpath "${1:?path to cocoon binary}")
DIR=$(cd "$(dirname "$0")/../ton" && pwd)
WORK=$(mktemp -d /tmp/cocoon-ton.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node and npm are not installed; the @ton/core oracle cannot run"
  exit 0
fi
if [ ! -d "$DIR/node_modules/@ton/core" ] || [ ! -d "$DIR/node_modules/@ton/ton" ]; then
  echo "installing the pinned oracle packages (npm ci) in $DIR"
  (cd "$DIR" && npm ci --no-audit --no-fund) || fail "npm ci failed in $DIR"
fi

# 1. Generated cases, two seeds; each line is rebuilt in C and compared.
for seed in 20240601 7; do
  (cd "$DIR" && node gen.cjs "$seed") >"$WORK/cases-$seed.jsonl" || fail "generator failed (seed $seed)"
  out=$("$COCOON" ton selftest-oracle "$WORK/cases-$seed.jsonl" 2>"$WORK/err-$seed.txt") || {
    head -60 "$WORK/err-$seed.txt" >&2
    fail "C differs from @ton/core (seed $seed): $out"
  }
  echo "$out" | grep -qE '^oracle: [0-9]+ cases .* 0 mismatches, 0 bad lines$' || fail "unexpected summary: $out"
  n=$(echo "$out" | sed -E 's/^oracle: ([0-9]+) cases.*/\1/')
  [ "$n" -ge 50 ] || fail "only $n cases (want >= 50)"
  m=$(echo "$out" | grep -oE 'wallet_tx [0-9]+' | cut -d' ' -f2)
  [ "${m:-0}" -ge 50 ] || fail "only ${m:-0} wallet transfer cases (want >= 50)"
  pass "seed $seed: $out"
done

# 2. The comparison itself notices a wrong answer.
sed -E '0,/"hash":"[0-9a-f]/s/"hash":"([0-9a-f])/"hash":"x\1/' "$WORK/cases-7.jsonl" >"$WORK/tampered.jsonl"
if "$COCOON" ton selftest-oracle "$WORK/tampered.jsonl" >/dev/null 2>&1; then
  fail "a tampered case file was accepted"
fi
pass "a tampered expectation is reported as a mismatch"
# ... also for a wallet external message signed in C and for a signed COCOON body.
for key in ext_hash body_hash; do
  sed -E "0,/\"$key\":\"[0-9a-f]/s/\"$key\":\"([0-9a-f])/\"$key\":\"f\1/" "$WORK/cases-7.jsonl" | sed -E "0,/\"$key\":\"f[0-9a-f]{64}\"/s/(\"$key\":\"f[0-9a-f]{63})[0-9a-f]\"/\1\"/" >"$WORK/tampered.jsonl"
  cmp -s "$WORK/tampered.jsonl" "$WORK/cases-7.jsonl" && fail "could not tamper $key"
  if "$COCOON" ton selftest-oracle "$WORK/tampered.jsonl" >/dev/null 2>&1; then
    fail "a tampered $key was accepted"
  fi
done
grep -q '"kind":"wallet_tx"' "$WORK/cases-7.jsonl" || fail "no wallet transfer cases"
pass "tampered wallet transfer hashes are reported as mismatches"

# 3. `cocoon ton address` agrees with @ton/ton for both wallets, both networks.
PK=5f7c1d3a9be24c6e7f0a1b2c3d4e5f60718293a4b5c6d7e8f901122334455667
for w in v4r2 v5r1; do
  for net in main test; do
    flag=""; [ $net = test ] && flag="--testnet"
    want=$(cd "$DIR" && node -e '
      const {WalletContractV4, WalletContractV5R1} = require("@ton/ton");
      const [w, net, pk] = process.argv.slice(1); const t = net === "test";
      const publicKey = Buffer.from(pk, "hex");
      const c = w === "v4r2" ? WalletContractV4.create({workchain: 0, publicKey})
        : WalletContractV5R1.create({workchain: 0, publicKey, walletId: {networkGlobalId: t ? -3 : -239,
            context: {workchain: 0, walletVersion: "v5r1", subwalletNumber: 0}}});
      console.log(c.address.toRawString(), c.address.toString({bounceable: true, testOnly: t}),
                  c.address.toString({bounceable: false, testOnly: t}));' "$w" "$net" "$PK")
    got=$("$COCOON" ton address --pubkey "$PK" --wallet "$w" $flag) || fail "ton address $w $net failed"
    sfx=""; [ $net = test ] && sfx="_testnet"
    line="$(echo "$got" | sed -n 's/^raw: //p') $(echo "$got" | sed -n "s/^friendly_bounceable$sfx: //p") $(echo "$got" | sed -n "s/^friendly_non_bounceable$sfx: //p")"
    [ "$line" = "$want" ] || fail "ton address $w $net: got '$line' want '$want'"
  done
done
pass "ton address matches @ton/ton (v4r2, v5r1; mainnet, testnet)"

# 4. `cocoon ton parse-address` and `cocoon ton boc` on oracle-made inputs.
A=$(cd "$DIR" && node -e 'const {Address}=require("@ton/core");
  const a = new Address(-1, Buffer.alloc(32, 0xab)); console.log(a.toString({bounceable:false, testOnly:true}))')
got=$("$COCOON" ton parse-address "$A") || fail "parse-address failed"
echo "$got" | grep -qx 'workchain: -1' || fail "parse-address workchain: $got"
echo "$got" | grep -qx "hash: $(printf 'ab%.0s' $(seq 32))" || fail "parse-address hash: $got"
echo "$got" | grep -qx 'bounceable: no' || fail "parse-address bounceable: $got"
echo "$got" | grep -qx 'testnet: yes' || fail "parse-address testnet: $got"
echo "$got" | grep -qx "friendly_non_bounceable_testnet: $A" || fail "parse-address forms: $got"
pass "parse-address reads an @ton/core friendly address"

(cd "$DIR" && node -e 'const {beginCell}=require("@ton/core");
  const leaf = beginCell().storeUint(5, 3).endCell();
  const c = beginCell().storeUint(123456789, 34).storeRef(leaf).storeRef(leaf).endCell();
  process.stdout.write(c.hash().toString("hex") + " " + c.toBoc().toString("base64") + "\n")') >"$WORK/boc.txt"
read -r HASH B64 <"$WORK/boc.txt"
echo "$B64" >"$WORK/x.b64"
echo "$B64" | base64 -d >"$WORK/x.boc"
for f in x.b64 x.boc; do
  got=$("$COCOON" ton boc "$WORK/$f") || fail "ton boc $f failed"
  echo "$got" | grep -q "root 0: hash $HASH" || fail "ton boc $f: root hash: $got"
  echo "$got" | grep -q "34 bits, 2 refs" || fail "ton boc $f: tree: $got"
  echo "$got" | grep -q "shared, shown above" || fail "ton boc $f: shared cell: $got"
done
pass "ton boc prints the tree of an @ton/core BoC (base64 and binary)"

# 5. Errors: exit 1 for bad input, 2 for bad usage, with a message.
set +e
"$COCOON" ton parse-address "${A%?}x" 2>"$WORK/e1"; rc1=$?
"$COCOON" ton address --pubkey 1234 --wallet v4r2 2>"$WORK/e2"; rc2=$?
"$COCOON" ton address --pubkey "$PK" --wallet v9 2>"$WORK/e3"; rc3=$?
head -c 20 "$WORK/x.boc" >"$WORK/cut.boc"
"$COCOON" ton boc "$WORK/cut.boc" 2>"$WORK/e4"; rc4=$?
"$COCOON" ton boc "$WORK/missing.boc" 2>"$WORK/e5"; rc5=$?
"$COCOON" ton frobnicate 2>/dev/null; rc6=$?
set -e
[ $rc1 = 1 ] && grep -q "CRC16\|base64" "$WORK/e1" || fail "bad address: rc $rc1 $(cat "$WORK/e1")"
[ $rc2 = 2 ] && grep -q "64 hex digits" "$WORK/e2" || fail "short pubkey: rc $rc2 $(cat "$WORK/e2")"
[ $rc3 = 2 ] && grep -q "unknown wallet" "$WORK/e3" || fail "bad wallet: rc $rc3 $(cat "$WORK/e3")"
[ $rc4 = 1 ] && grep -q "BoC" "$WORK/e4" || fail "truncated boc: rc $rc4 $(cat "$WORK/e4")"
[ $rc5 = 1 ] && grep -q "cannot open" "$WORK/e5" || fail "missing file: rc $rc5 $(cat "$WORK/e5")"
[ $rc6 = 2 ] || fail "unknown subcommand: rc $rc6"
pass "errors: $(cat "$WORK/e1") / $(cat "$WORK/e4")"
echo "all ton oracle checks passed"
