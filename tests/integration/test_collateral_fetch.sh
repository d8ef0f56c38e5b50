#!/usr/bin/env bash
# test_collateral_fetch: `cocoon attest fetch-collateral` against a local PCCS stand-in (Node):
# the right URLs and parameters, the issuer-chain header URL-decoded, CRLs stored as DER whether
# served as binary or hex text, HTTP errors named, and files written only when all succeed.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"
command -v node >/dev/null || fail "node is not installed (make deps installs it)"

cat >"$WORK/pccs.cjs" <<'EOF'
const http = require('http');
const fs = require('fs');
const log = process.argv[2];
const chain = '-----BEGIN CERTIFICATE-----\nTCBSIGNING\n-----END CERTIFICATE-----\n' +
              '-----BEGIN CERTIFICATE-----\nROOT+/=\n-----END CERTIFICATE-----\n';
const srv = http.createServer((req, res) => {
  fs.appendFileSync(log, req.url + '\n');
  const u = new URL(req.url, 'http://x');
  if (u.pathname === '/pccs/tdx/certification/v4/tcb' && u.searchParams.get('fmspc') === '90c06f000000') {
    res.writeHead(200, {'Content-Type': 'application/json', 'TCB-Info-Issuer-Chain': encodeURIComponent(chain)});
    res.end('{"tcbInfo":{"id":"TDX","version":3},"signature":"ab"}');
  } else if (u.pathname === '/pccs/tdx/certification/v4/qe/identity') {
    res.writeHead(200, {'Content-Type': 'application/json'});
    res.end('{"enclaveIdentity":{"id":"TD_QE"},"signature":"cd"}');
  } else if (u.pathname === '/pccs/sgx/certification/v4/pckcrl' && u.searchParams.get('encoding') === 'der') {
    res.writeHead(200, {'Content-Type': 'application/pkix-crl'});
    res.end(Buffer.from([0x30, 0x05, 0xff, 0x00, 0x10, 0x20, 0x7f, u.searchParams.get('ca') === 'processor' ? 1 : 2]));
  } else if (u.pathname === '/pccs/sgx/certification/v4/rootcacrl') {
    res.writeHead(200, {'Content-Type': 'text/plain'});
    res.end('3003020107');
  } else {
    res.writeHead(404);
    res.end('not found');
  }
});
srv.listen(0, '127.0.0.1', () => console.log('http://127.0.0.1:' + srv.address().port + '/pccs'));
EOF

start pccs node "$WORK/pccs.cjs" "$WORK/requests.log"
for i in $(seq 1 100); do URL=$(head -1 "$WORK/pccs.out" 2>/dev/null || true); [ -n "$URL" ] && break; sleep 0.05; done
[ -n "$URL" ] || fail "PCCS stand-in did not start"

OUT="$WORK/coll"
"$COCOON" attest fetch-collateral --pccs "$URL/" --fmspc 90C06F000000 --out "$OUT" >"$WORK/fetch.txt" \
  || fail "fetch failed: $(cat "$WORK/fetch.txt")"
grep -q "^fmspc: 90c06f000000" "$WORK/fetch.txt" || fail "fmspc not printed: $(cat "$WORK/fetch.txt")"
grep -q "^/pccs/tdx/certification/v4/tcb?fmspc=90c06f000000$" "$WORK/requests.log" || fail "TCB info URL: $(cat "$WORK/requests.log")"
grep -q "^/pccs/sgx/certification/v4/pckcrl?ca=platform&encoding=der$" "$WORK/requests.log" || fail "PCK CRL URL"
[ "$(cat "$OUT/tcb_info.json")" = '{"tcbInfo":{"id":"TDX","version":3},"signature":"ab"}' ] || fail "tcb_info.json"
[ "$(cat "$OUT/qe_identity.json")" = '{"enclaveIdentity":{"id":"TD_QE"},"signature":"cd"}' ] || fail "qe_identity.json"
grep -q "^TCBSIGNING$" "$OUT/tcb_signing_chain.pem" && grep -q "^ROOT+/=$" "$OUT/tcb_signing_chain.pem" \
  || fail "issuer chain not URL-decoded: $(cat "$OUT/tcb_signing_chain.pem")"
[ "$(od -An -tx1 "$OUT/pck_crl.der" | tr -d ' \n')" = "3005ff0010207f02" ] || fail "binary PCK CRL changed"
[ "$(od -An -tx1 "$OUT/root_ca_crl.der" | tr -d ' \n')" = "3003020107" ] || fail "hex root CRL not stored as DER"
pass "collateral fetched, headers decoded, CRLs as DER"

"$COCOON" attest fetch-collateral --pccs "$URL" --fmspc 90c06f000000 --ca processor --out "$OUT" >/dev/null \
  || fail "fetch with --ca processor failed"
grep -q "pckcrl?ca=processor" "$WORK/requests.log" || fail "--ca processor not sent"
[ "$(od -An -tx1 "$OUT/pck_crl.der" | tr -d ' \n')" = "3005ff0010207f01" ] || fail "processor CRL not stored"
pass "processor CA"

# An FMSPC the PCCS does not know: HTTP 404 named, exit 1, nothing written.
set +e
"$COCOON" attest fetch-collateral --pccs "$URL" --fmspc 00906ea10000 --out "$WORK/none" 2>"$WORK/err.txt"
rc=$?
set -e
[ $rc = 1 ] || fail "unknown fmspc: exit $rc"
grep -q "HTTP 404" "$WORK/err.txt" || fail "404 not named: $(cat "$WORK/err.txt")"
[ ! -e "$WORK/none/tcb_info.json" ] || fail "files written after a failure"
pass "unknown FMSPC refused"

# A malformed FMSPC is a usage error (exit 2).
set +e
"$COCOON" attest fetch-collateral --pccs "$URL" --fmspc zz --out "$WORK/none" 2>"$WORK/err.txt"
rc=$?
set -e
[ $rc = 2 ] || fail "bad --fmspc: exit $rc"
pass "bad arguments refused"
