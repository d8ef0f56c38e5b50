#!/usr/bin/env bash
# test_attest: a network attested with the sim TEE: it works, shows peer image hashes, and the
# proxy refuses workers without a quote, from another platform, or not on its allowlist.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

PLATFORM="$WORK/platform.pem"
SIM=(--policy sim --quote-provider sim --sim-platform-key "$PLATFORM")
CHAT='{"model":"test-model","messages":[{"role":"user","content":"x"}]}'

# own_hash NAME: the image hash a node logged for itself at start.
own_hash() { sed -n 's/.*ev=node_identity .*image_hash=\([0-9a-f]\{64\}\).*/\1/p' "$WORK/$1.log" | head -1; }
# log_has NAME PATTERN
log_has() { grep -q -- "$2" "$WORK/$1.log"; }

start_backend b1 --chunks 3

# 0. COCOON's fake_tdx format end to end: all measurements zero, so every peer's image hash is
#    SHA-256 of 448 zero bytes.
FAKE=(--policy fake_tdx --quote-provider fake_tdx)
FAKEH=$(head -c 448 /dev/zero | sha256sum | cut -d' ' -f1)
start_proxy fproxy "${FAKE[@]}"
start_worker fw "$(ready_get "$WORK/fproxy.ready" worker_addr)" "$BACKEND_URL_b1" "${FAKE[@]}"
start_client fc "$(ready_get "$WORK/fproxy.ready" client_addr)" "${FAKE[@]}"
FCURL=$(ready_get "$WORK/fc.ready" http_url)
fake_ok() { curl -sf "$FCURL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 fake_ok || fail "fake_tdx network: model never listed: $(curl -s "$FCURL/jsonstats")"
http POST "$FCURL/v1/chat/completions" "$CHAT"
[ "$HTTP_STATUS" = 200 ] || fail "fake_tdx network: chat $HTTP_STATUS $HTTP_BODY"
curl -sf "$(ready_get "$WORK/fproxy.ready" http_url)/jsonstats" | grep -q "\"policy\":\"fake_tdx\",\"attested\":true,\"image_hash\":\"$FAKEH\"" ||
  fail "fake_tdx: proxy /jsonstats lacks the fake image hash"
curl -sf "$FCURL/jsonstats" | grep -q "\"image_hash\":\"$FAKEH\"" || fail "fake_tdx: client /jsonstats lacks the image hash"
pass "fake_tdx network serves requests; peers show image hash $FAKEH"
kill "$PID_fc" "$PID_fw" "$PID_fproxy"

# 1. proxy, worker and client all require sim and present sim quotes: requests are served.
start_proxy proxy "${SIM[@]}"
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
PURL=$(ready_get "$WORK/proxy.ready" http_url)
[ "$(stat -c %a "$PLATFORM")" = 600 ] || fail "platform key not created 0600"
start_worker w1 "$PADDR" "$BACKEND_URL_b1" "${SIM[@]}"
start_client c1 "$CADDR" "${SIM[@]}"
CURL=$(ready_get "$WORK/c1.ready" http_url)
W1URL=$(ready_get "$WORK/w1.ready" http_url)
models_ok() { curl -sf "$CURL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 models_ok || fail "sim network: model never listed: $(curl -s "$CURL/jsonstats")"
http POST "$CURL/v1/chat/completions" "$CHAT"
[ "$HTTP_STATUS" = 200 ] || fail "sim network: chat $HTTP_STATUS $HTTP_BODY"
pass "client -> proxy -> worker, every link attested with sim"

W1H=$(own_hash w1)
PH=$(own_hash proxy)
[ -n "$W1H" ] && [ -n "$PH" ] || fail "nodes did not log their image hash"
curl -sf "$PURL/jsonstats" | grep -q "\"attested\":true,\"image_hash\":\"$W1H\"" ||
  fail "proxy /jsonstats lacks the worker's image hash $W1H: $(curl -s "$PURL/jsonstats")"
curl -sf "$CURL/jsonstats" | grep -q "\"attested\":true,\"image_hash\":\"$PH\"" ||
  fail "client /jsonstats lacks the proxy's image hash: $(curl -s "$CURL/jsonstats")"
curl -sf "$W1URL/jsonstats" | grep -q "\"attested\":true,\"image_hash\":\"$PH\"" ||
  fail "worker /jsonstats lacks the proxy's image hash: $(curl -s "$W1URL/jsonstats")"
pass "peer image hashes in /jsonstats (worker $W1H, proxy $PH)"

# 2. A worker without a quote is refused in the TLS handshake, before any request byte.
start_worker noquote "$PADDR" "$BACKEND_URL_b1" --policy sim --sim-platform-key "$PLATFORM"
NQURL=$(ready_get "$WORK/noquote.ready" http_url)
wait_until 10 log_has proxy 'ev=attest_refused policy=sim .*no quote in the peer' ||
  fail "worker without a quote not refused by the proxy"
sleep 0.5
curl -sf "$NQURL/jsonstats" | grep -q '"state":"ready"' && fail "worker without a quote became ready"
[ "$(curl -sf "$PURL/jsonstats" | grep -o '"attested":true' | wc -l)" -eq 1 ] ||
  fail "proxy lists more than the attested worker: $(curl -s "$PURL/jsonstats")"
pass "worker without a quote refused: $(grep -m1 'ev=attest_refused' "$WORK/proxy.log" | sed 's/.*reason=//')"

# 3. A worker whose quotes come from another sim platform (it trusts ours, we do not trust it).
PPUB=$(sed -n 's/.*ev=node_identity .*sim_platform_pubkey=\([0-9a-f]\{64\}\).*/\1/p' "$WORK/proxy.log" | head -1)
[ -n "$PPUB" ] || fail "proxy did not log its sim platform key"
start_worker forged "$PADDR" "$BACKEND_URL_b1" --policy sim --quote-provider sim \
  --sim-platform-key "$WORK/other-platform.pem" --sim-platform-pubkey "$PPUB"
wait_until 10 log_has proxy 'reason="sim quote signed by another platform key' ||
  fail "worker from another platform not refused"
pass "worker signed by another sim platform key refused"

# 4. Allowlist: the proxy accepts only the image hash of worker `good`; `bad` runs with another
#    configuration (another measurement) and is refused. The proxy's ports are chosen first so
#    the workers' configurations (which name them) are final before the allowlist is written.
start_proxy ptmp "${SIM[@]}"
P2ADDR=$(ready_get "$WORK/ptmp.ready" worker_addr)
C2ADDR=$(ready_get "$WORK/ptmp.ready" client_addr)
kill "$PID_ptmp"; wait "$PID_ptmp" 2>/dev/null || true
start_worker good "$P2ADDR" "$BACKEND_URL_b1" "${SIM[@]}"
start_worker bad "$P2ADDR" "$BACKEND_URL_b1" "${SIM[@]}" --coefficient 2000
GOODH=$(own_hash good)
BADH=$(own_hash bad)
[ -n "$GOODH" ] && [ -n "$BADH" ] && [ "$GOODH" != "$BADH" ] || fail "worker image hashes: '$GOODH' '$BADH'"
start_proxy p2 "${SIM[@]}" --worker-listen "$P2ADDR" --client-listen "$C2ADDR" --allowed-image-hashes "$GOODH"
P2URL=$(ready_get "$WORK/p2.ready" http_url)
good_in() { curl -sf "$P2URL/jsonstats" | grep -q "\"image_hash\":\"$GOODH\""; }
wait_until 20 good_in || fail "allowlisted worker not accepted: $(curl -s "$P2URL/jsonstats")"
wait_until 20 log_has p2 "image hash $BADH not in allowlist" || fail "worker off the allowlist not refused"
curl -sf "$P2URL/jsonstats" | grep -q "$BADH" && fail "worker off the allowlist listed by the proxy"
pass "allowlist: $GOODH accepted, $BADH refused"

# 5. `cocoon attest cert`: the proxy's stored certificate shows its sim quote, the image hash it
#    logged, the key binding; it passes policy sim with the right platform key only. A keygen
#    certificate (no quote) passes `any` and fails `fake_tdx`.
"$COCOON" attest cert "$WORK/proxy-keys/cert.pem" --policy sim --sim-platform-pubkey "$PPUB" >"$WORK/cert.out" ||
  fail "attest cert refused the proxy's certificate: $(cat "$WORK/cert.out")"
grep -q '^quote_format: sim v1$' "$WORK/cert.out" || fail "attest cert: no sim quote format"
grep -q "^image_hash: $PH$" "$WORK/cert.out" || fail "attest cert: image hash differs from the proxy's own"
grep -q '^report_data_binds_key: yes$' "$WORK/cert.out" || fail "attest cert: key binding not shown"
grep -q '^policy sim: accepted$' "$WORK/cert.out" || fail "attest cert: no verdict"
"$COCOON" attest cert "$WORK/proxy-keys/cert.pem" --policy sim --sim-platform-pubkey "$(printf '%064d' 1)" \
  >"$WORK/cert2.out" 2>/dev/null && fail "attest cert accepted a quote from an untrusted platform"
grep -q '^policy sim: REFUSED (sim quote signed by another platform key' "$WORK/cert2.out" || fail "attest cert: $(cat "$WORK/cert2.out")"
"$COCOON" keygen --dir "$WORK/kg" >/dev/null
"$COCOON" attest cert "$WORK/kg/cert.pem" | grep -q '^policy any: accepted$' || fail "attest cert: keygen certificate refused by any"
"$COCOON" attest cert "$WORK/kg/cert.pem" --policy fake_tdx >"$WORK/cert3.out" 2>/dev/null &&
  fail "attest cert: a certificate without a quote passed fake_tdx"
grep -q '^policy fake_tdx: REFUSED (no quote' "$WORK/cert3.out" || fail "attest cert: $(cat "$WORK/cert3.out")"
pass "attest cert shows the quote's measurements and checks the certificate under a policy"
