#!/usr/bin/env bash
# test_registry: a sim-attested network governed by a signed registry file: only listed proxy
# and worker images and models are accepted, newer versions are picked up without a restart,
# bad, unsigned and rolled-back files are refused.
# SPDX-License-Identifier: Apache-2.0
source "$(dirname "$0")/lib.sh"

PLATFORM="$WORK/platform.pem"
OWNER_KEY="$WORK/owner.pem"
REG="$WORK/registry"
SIM=(--policy sim --quote-provider sim --sim-platform-key "$PLATFORM")
CHAT='{"model":"test-model","messages":[{"role":"user","content":"x"}]}'

own_hash() { sed -n 's/.*ev=node_identity .*image_hash=\([0-9a-f]\{64\}\).*/\1/p' "$WORK/$1.log" | head -1; }
log_has() { grep -q -- "$2" "$WORK/$1.log"; }
jsonstats() { curl -sf "$(ready_get "$WORK/$1.ready" http_url)/jsonstats"; }
# publish FILE add|remove [options...]: edits a copy of FILE, signs it (the version goes up),
# then renames it into place, so daemons never see a half-edited file.
publish() {
  local f=$1 cmd=$2; shift 2
  cp "$f" "$WORK/edit"
  "$COCOON" registry "$cmd" "$WORK/edit" "$@" >/dev/null
  "$COCOON" registry sign "$WORK/edit" --key "$OWNER_KEY" >/dev/null
  mv "$WORK/edit" "$f"
}

# 0. The CLI: init creates the owner key (0600) and an unsigned version 1; verify needs a
#    signature by the right owner.
"$COCOON" registry init "$REG" --owner-key "$OWNER_KEY" >/dev/null
[ "$(stat -c %a "$OWNER_KEY")" = 600 ] || fail "owner key not created 0600"
OWNER=$("$COCOON" registry show "$REG" | sed -n 's/^owner: //p')
[ ${#OWNER} = 64 ] || fail "registry show printed no owner"
"$COCOON" registry verify "$REG" --owner "$OWNER" 2>"$WORK/verify.err" && fail "unsigned registry verified"
grep -q "is not signed" "$WORK/verify.err" || fail "verify: $(cat "$WORK/verify.err")"
"$COCOON" registry add "$REG" --model test-model --price-per-token 5 --worker-fee-per-token 3 \
  --completion-multiplier 20000 --min-client-stake 777 >/dev/null
"$COCOON" registry sign "$REG" --key "$OWNER_KEY" >/dev/null
"$COCOON" registry verify "$REG" --owner "$OWNER" >/dev/null || fail "signed registry did not verify"
OTHER=$(printf '%064d' 7)
"$COCOON" registry verify "$REG" --owner "$OTHER" 2>/dev/null && fail "registry verified against another owner"
REGF=(--registry "$REG" --registry-owner "$OWNER")
pass "registry init/add/sign/verify (owner $OWNER)"

# 1. A daemon refuses to start on a badly signed file, naming why.
cp "$REG" "$WORK/badsig"
sed -i 's/^price_per_token 5$/price_per_token 6/' "$WORK/badsig"
if "$COCOON" proxy "${SIM[@]}" --registry "$WORK/badsig" --registry-owner "$OWNER" --worker-listen 127.0.0.1:0 \
  --client-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 2>"$WORK/badsig.log"; then fail "proxy started on a badly signed registry"; fi
grep -q "bad signature" "$WORK/badsig.log" || fail "bad signature not named: $(cat "$WORK/badsig.log")"
pass "badly signed registry refused at start: $(grep -o 'registry .*' "$WORK/badsig.log" | head -1)"

# 2. Proxy on registry v1 (no worker images). Its own image hash goes into v2 for clients.
start_proxy proxy "${SIM[@]}" "${REGF[@]}"
PADDR=$(ready_get "$WORK/proxy.ready" worker_addr)
CADDR=$(ready_get "$WORK/proxy.ready" client_addr)
PH=$(own_hash proxy)
[ -n "$PH" ] || fail "proxy logged no image hash"
jsonstats proxy | grep -q '"registry":{"source":"file [^"]*","version":1,' || fail "proxy /jsonstats lacks registry v1: $(jsonstats proxy)"
publish "$REG" add --proxy-image "$PH"
wait_until 10 log_has proxy 'ev=registry_reloaded .*version=2' || fail "proxy did not reload v2"

# 3. Worker `good`: the proxy refuses it (its image is not in v2) and says why.
start_backend b1 --chunks 3
start_worker good "$PADDR" "$BACKEND_URL_b1" "${SIM[@]}" "${REGF[@]}"
GOODH=$(own_hash good)
wait_until 15 log_has proxy "image hash $GOODH not in registry v2 worker images (0 allowed)" ||
  fail "worker off the registry not refused"
pass "worker $GOODH refused while not in the registry"

# 4. v3 adds the worker's image: picked up without restart, the worker connects.
publish "$REG" add --worker-image "$GOODH"
wait_until 10 log_has proxy 'ev=registry_reloaded .*version=3' || fail "proxy did not reload v3"
good_in() { jsonstats proxy | grep -q "\"image_hash\":\"$GOODH\""; }
wait_until 25 good_in || fail "worker not accepted after v3: $(jsonstats proxy)"
jsonstats proxy | grep -q '"version":3,' || fail "proxy /jsonstats does not show version 3"
pass "registry v3 picked up without restart; worker accepted"

# 5. A client on the same registry accepts the listed proxy; requests flow end to end.
start_client c1 "$CADDR" "${SIM[@]}" "${REGF[@]}"
CURL=$(ready_get "$WORK/c1.ready" http_url)
models_ok() { curl -sf "$CURL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 models_ok || fail "client never listed the model: $(jsonstats c1)"
http POST "$CURL/v1/chat/completions" "$CHAT"
[ "$HTTP_STATUS" = 200 ] || fail "chat $HTTP_STATUS $HTTP_BODY"
jsonstats c1 | grep -q "\"attested\":true,\"image_hash\":\"$PH\",\"mrtd\":\"[0-9a-f]\{96\}\",\"rtmr0\"" ||
  fail "client /jsonstats lacks the proxy's identity: $(jsonstats c1)"
jsonstats proxy | grep -q '"worker_policy":"sim","client_policy":"sim"' || fail "proxy /jsonstats lacks its policies"
curl -sf "$(ready_get "$WORK/proxy.ready" http_url)/stats" | grep -q "<code>$GOODH</code>" || fail "proxy /stats lacks the worker's image hash"
# The proxy bills at the registry's prices, not its own config's defaults (2 and 1).
jsonstats proxy | grep -q '"price_per_token":5,"worker_fee_per_token":3,"multipliers":\[10000,10000,20000,10000\]' ||
  fail "proxy does not bill at the registry's prices: $(jsonstats proxy | head -c 400)"
# ... and the client's account carries the registry's minimum stake (local settlement terms).
stake_is_registry() { jsonstats c1 | grep -q '"stake":777'; }
wait_until 20 stake_is_registry || fail "client account stake is not the registry's: $(jsonstats c1 | head -c 600)"
pass "client -> proxy -> worker with every image on the registry, billed at its prices and stake"

# 6. A worker with another configuration (another measurement) is refused, with the reason.
start_worker bad "$PADDR" "$BACKEND_URL_b1" "${SIM[@]}" "${REGF[@]}" --coefficient 2000
BADH=$(own_hash bad)
[ "$BADH" != "$GOODH" ] || fail "different configurations gave the same image hash"
wait_until 15 log_has proxy "ev=attest_refused policy=sim .*image hash $BADH not in registry v3 worker images" ||
  fail "worker with another measurement not refused"
pass "worker with another measurement refused: image hash $BADH not in registry v3"

# 7. A worker whose image is listed but whose model is not: refused at connectToProxy.
start_worker wm "$PADDR" "$BACKEND_URL_b1" "${SIM[@]}" "${REGF[@]}" --model other-model
WMH=$(own_hash wm)
publish "$REG" add --worker-image "$WMH"
wait_until 25 log_has proxy 'ev=worker_refused .*reason="model other-model (hash [0-9a-f]*...) not in registry v4' ||
  fail "worker with a model off the registry not refused"
wait_until 10 log_has wm 'not in registry v4' || fail "the worker was not told why"
pass "worker announcing a model off the registry refused: $(grep -m1 'ev=worker_refused' "$WORK/proxy.log" | sed 's/.*reason=//')"
# c1 must have taken v4 (and saved it in its key_dir) before the bad updates below replace the file.
wait_until 15 log_has c1 'ev=registry_reloaded .*version=4' || fail "client c1 did not reload v4"

# 8. Bad updates while running: a badly signed v9 and an older v2 are logged and ignored.
cp "$REG" "$WORK/v4"
sed 's/^version 4$/version 9/' "$WORK/v4" >"$WORK/v9"
mv "$WORK/v9" "$REG"
wait_until 10 log_has proxy 'ev=registry_rejected .*keeping_version=4 reason="registry version 9: bad signature' ||
  fail "badly signed update not rejected"
jsonstats proxy | grep -q '"version":4,' || fail "proxy left version 4 after a bad update"
jsonstats proxy | grep -q '"config_version":4,' || fail "proxy does not announce the registry version as config_version"
cp "$WORK/v4" "$WORK/v2"
sed -i -e 's/^version 4$/version 2/' -e '/^signature /d' "$WORK/v2"
"$COCOON" registry sign "$WORK/v2" --key "$OWNER_KEY" >/dev/null
mv "$WORK/v2" "$REG"
wait_until 10 log_has proxy 'reason="registry version 2 is older than the loaded version 4"' || fail "older update not rejected"
jsonstats proxy | grep -q '"rejected":2,' || fail "proxy /jsonstats does not count 2 rejected updates"
pass "bad and older updates ignored, version 4 kept"

# 9. Rollback at start: c1's key_dir remembers version 4; a fresh start on v2 is refused.
if timeout 10 "$COCOON" client --proxy "$CADDR" "${SIM[@]}" "${REGF[@]}" --http-listen 127.0.0.1:0 \
  --key-dir "$WORK/c1-keys" 2>"$WORK/rollback.log"; then fail "client started on a rolled-back registry"; fi
grep -q "is older than version 4 accepted before" "$WORK/rollback.log" || fail "rollback not named: $(cat "$WORK/rollback.log")"
cp "$WORK/v4" "$REG"
pass "rolled-back registry refused at start"

# 10. A client whose registry does not list this proxy refuses it in the handshake.
cp "$WORK/v4" "$WORK/noproxy"
sed -i -e "/^proxy_image /d" -e 's/^version 4$/version 5/' -e '/^signature /d' "$WORK/noproxy"
"$COCOON" registry sign "$WORK/noproxy" --key "$OWNER_KEY" >/dev/null
start_client c2 "$CADDR" "${SIM[@]}" --registry "$WORK/noproxy" --registry-owner "$OWNER"
wait_until 15 log_has c2 "ev=attest_refused policy=sim .*image hash $PH not in registry v5 proxy images (0 allowed)" ||
  fail "client did not refuse the unlisted proxy"
jsonstats c2 | grep -q '"state":"ready"' && fail "client became ready with an unlisted proxy"
pass "client refuses a proxy not on its registry"

# 11. Versions that drop entries disconnect peers already connected: v5 removes worker `good`'s
#     image (the proxy drops it), v6 removes the proxy's image (the client drops the proxy).
publish "$REG" remove --worker-image "$GOODH"
wait_until 10 log_has proxy "ev=worker_dropped .*reason=\"image hash $GOODH no longer in registry v5 worker images\"" ||
  fail "proxy kept a worker the registry no longer lists"
good_in && fail "worker still listed by the proxy after v5"
publish "$REG" remove --proxy-image "$PH"
wait_until 10 log_has c1 "ev=proxy_dropped .*reason=\"image hash $PH no longer in registry v6 proxy images\"" ||
  fail "client kept a proxy the registry no longer lists"
pass "peers removed from the registry are disconnected without restart"

# 12. Per-kind policies on the proxy: workers must present sim quotes, clients need none
#     (--policy any --worker-policy sim); then --client-policy sim refuses the same client.
start_proxy p3 --quote-provider sim --sim-platform-key "$PLATFORM" --policy any --worker-policy sim
P3W=$(ready_get "$WORK/p3.ready" worker_addr)
P3C=$(ready_get "$WORK/p3.ready" client_addr)
log_has p3 'ev=peer_policies worker_policy=sim client_policy=any' || fail "p3 did not log its per-kind policies"
start_worker w3 "$P3W" "$BACKEND_URL_b1" "${SIM[@]}"
start_worker nq3 "$P3W" "$BACKEND_URL_b1" --policy sim --sim-platform-key "$PLATFORM"
start_client c3 "$P3C"
C3URL=$(ready_get "$WORK/c3.ready" http_url)
c3_ok() { curl -sf "$C3URL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 c3_ok || fail "client without a quote not served under client_policy any: $(jsonstats c3)"
http POST "$C3URL/v1/chat/completions" "$CHAT"
[ "$HTTP_STATUS" = 200 ] || fail "per-kind: chat $HTTP_STATUS $HTTP_BODY"
wait_until 10 log_has p3 'ev=attest_refused policy=sim .*no quote in the peer' || fail "worker without a quote accepted by worker_policy sim"
jsonstats p3 | grep -q '"policy":"sim","attested":true' || fail "p3 /jsonstats does not show the worker accepted by sim"
start_proxy p4 --quote-provider sim --sim-platform-key "$PLATFORM" --policy any --client-policy sim
start_client c4 "$(ready_get "$WORK/p4.ready" client_addr)"
wait_until 10 log_has p4 'ev=attest_refused policy=sim .*no quote in the peer' || fail "client without a quote accepted by client_policy sim"
pass "per-kind policies: worker_policy sim with client_policy any, and client_policy sim refusing an unattested client"

# 13. Proxy discovery: v7 lists the proxy again, with its workers' and clients' ports; a client
#     and a worker started without --proxy connect to it through the registry.
publish "$REG" add --proxy-image "$PH" --proxy-addr "$PADDR,$CADDR" --worker-image "$GOODH"
wait_until 10 log_has proxy 'ev=registry_reloaded .*version=7' || fail "proxy did not reload v7"
curl -sf "$(ready_get "$WORK/proxy.ready" http_url)/stats" | grep -q "<h2>Registry</h2><p>version 7 from file $REG;" ||
  fail "proxy /stats lacks the registry section"
start c5 "$COCOON" client --http-listen 127.0.0.1:0 --key-dir "$WORK/c5-keys" --ready-file "$WORK/c5.ready" \
  "${SIM[@]}" "${REGF[@]}"
wait_ready "$WORK/c5.ready"
C5URL=$(ready_get "$WORK/c5.ready" http_url)
jsonstats c5 | grep -q "\"address\":\"$CADDR\"" || fail "client did not take the proxy's client port from the registry: $(jsonstats c5)"
wait_until 25 good_in || fail "worker good not back after v7"
c5_ok() { curl -sf "$C5URL/v1/models" | grep -q '"id":"test-model"'; }
wait_until 20 c5_ok || fail "client on registry proxy addresses not served: $(jsonstats c5)"
start w6 "$COCOON" worker --backend "$BACKEND_URL_b1" --model test-model --http-listen 127.0.0.1:0 \
  --key-dir "$WORK/w6-keys" --ready-file "$WORK/w6.ready" "${SIM[@]}" "${REGF[@]}"
wait_ready "$WORK/w6.ready"
jsonstats w6 | grep -q "\"address\":\"$PADDR\"" || fail "worker did not take the proxy's worker port from the registry"
if "$COCOON" client --http-listen 127.0.0.1:0 2>"$WORK/noproxy.log"; then fail "client started with no proxy"; fi
grep -q "no proxy given" "$WORK/noproxy.log" || fail "no-proxy error: $(cat "$WORK/noproxy.log")"
pass "clients and workers find the proxy through the registry's proxy_addr"
