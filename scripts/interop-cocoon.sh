#!/usr/bin/env bash
# interop-cocoon: runs docs/interop.md's checks against a build of COCOON (TelegramMessenger/cocoon).
# SPDX-License-Identifier: Apache-2.0
#
# Usage: scripts/interop-cocoon.sh COCOON_BUILD_DIR [check0|check1|check2|all|bench]
#
# COCOON_BUILD_DIR is COCOON's CMake build directory (commit b75d444 with its `ton` submodule):
#   check0 needs tee/router and tee/gen-cert  (ninja router gen-cert)
#   check2 needs proxy-runner too             (ninja proxy-runner)
#   check1 needs worker-runner, client-runner too
# Our binaries come from $COCOON_BIN (default build/cocoon) and $BACKEND_BIN (default
# build/cocoon-testbackend). Ports: $PORT_BASE .. $PORT_BASE+199 on 127.0.0.1 (default 23000).
# Not part of `make test`: COCOON is not built here by default. Logs stay in the printed work
# directory when a step fails (KEEP=1 keeps them always).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
CB=${1:-}
WHAT=${2:-all}
COCOON=${COCOON_BIN:-$root/build/cocoon}
BACKEND=${BACKEND_BIN:-$root/build/cocoon-testbackend}
PEER="python3 $root/scripts/interop-peer.py"
P=${PORT_BASE:-23000}

need() { # need FILE WHAT-BUILDS-IT
  if [ ! -x "$1" ]; then
    echo "interop-cocoon: missing $1 ($2)" >&2
    MISSING=1
  fi
}
MISSING=0
command -v python3 >/dev/null || { echo "interop-cocoon: python3 is missing (apt-get install python3); scripts/interop-peer.py needs it" >&2; exit 2; }
if [ -z "$CB" ] || [ ! -d "$CB" ]; then
  echo "interop-cocoon: COCOON build directory '${CB}' not found. Build COCOON b75d444 with its ton" >&2
  echo "  submodule outside this repository (docs/interop.md, 'Building COCOON for the checks'):" >&2
  echo "  ninja router gen-cert proxy-runner; then pass that build directory." >&2
  exit 2
fi
need "$COCOON" "ninja -C build cocoon"
need "$BACKEND" "ninja -C build cocoon-testbackend"
case $WHAT in
  check0) need "$CB/tee/router" "ninja router"; need "$CB/tee/gen-cert" "ninja gen-cert" ;;
  check1) need "$CB/tee/router" "ninja router"; need "$CB/worker-runner" "ninja worker-runner"
          need "$CB/client-runner" "ninja client-runner" ;;
  check2) need "$CB/tee/router" "ninja router"; need "$CB/proxy-runner" "ninja proxy-runner" ;;
  bench) need "$CB/tee/router" "ninja router"; need "$CB/proxy-runner" "ninja proxy-runner"
         need "$CB/worker-runner" "ninja worker-runner"; need "$CB/client-runner" "ninja client-runner" ;;
  all) need "$CB/tee/router" "ninja router"; need "$CB/tee/gen-cert" "ninja gen-cert"
       need "$CB/proxy-runner" "ninja proxy-runner"; need "$CB/worker-runner" "ninja worker-runner"
       need "$CB/client-runner" "ninja client-runner" ;;
  *) echo "interop-cocoon: unknown check $WHAT (check0, check1, check2, all, bench)" >&2; exit 2 ;;
esac
[ "$MISSING" = 0 ] || exit 2
ROUTER=$CB/tee/router

WORK=$(mktemp -d /tmp/cocoon-interop.XXXXXX)
PIDS=()
FAILS=0
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null; done
  if [ "$FAILS" != 0 ] || [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
start() { # start NAME CMD...: background, stdout+stderr in $WORK/NAME.log
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_$name=$!"
}
stop() { local v="PID_$1"; kill "${!v}" 2>/dev/null; wait "${!v}" 2>/dev/null; }
wait_log() { # wait_log SECONDS NAME PATTERN
  local end=$(( $(date +%s) + $1 ))
  until grep -qE -- "$3" "$WORK/$2.log" 2>/dev/null; do
    [ "$(date +%s)" -ge "$end" ] && return 1
    sleep 0.2
  done
}
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
show() { sed 's/\x1b\[[0-9;]*m//g' "$WORK/$1.log" | grep -a -m1 -E -- "$2" | cut -c1-300 | sed "s/^/    $1| /"; }
check() { # check NAME SECONDS LOGNAME PATTERN: passes if PATTERN shows up in LOGNAME's log
  if wait_log "$2" "$3" "$4"; then ok "$1"; show "$3" "$4"; else bad "$1 (no /$4/ in $3.log)"; fi
}
FAKE=(--policy fake_tdx --quote-provider fake_tdx)
FAKEH=$(head -c 448 /dev/zero | sha256sum | cut -d' ' -f1)

check0() {
  echo "== check 0: fake_tdx against COCOON's router (work dir $WORK)"
  (cd "$WORK" && "$CB/tee/gen-cert" --tdx fake_tdx --name "$WORK/rt" >"$WORK/gen-cert.log" 2>&1) ||
    { bad "gen-cert --tdx fake_tdx failed: $(tail -3 "$WORK/gen-cert.log")"; return; }
  # Router A: certificate with a fake_tdx quote; requires fake_tdx from every peer.
  #   -R P+11 -> sink P+111 (stands for their proxy-runner's worker port), -S P+16 (SOCKS5).
  start sink $PEER sink $((P + 111))
  start routerA "$ROUTER" -v 3 -C "$WORK/rt" -S $((P + 16))@fake_tdx \
    -R $((P + 11)):127.0.0.1:$((P + 111))@fake_tdx --serialize-info
  # Router B: no certificate given, so its own test certificate carries no quote.
  start sinkB $PEER sink $((P + 112))
  start routerB "$ROUTER" -v 3 -S $((P + 17))@fake_tdx \
    -R $((P + 12)):127.0.0.1:$((P + 112))@fake_tdx --serialize-info
  wait_log 10 sink 'sink listening' && wait_log 10 sinkB 'sink listening' || bad "sinks did not start"
  wait_log 10 routerA 'Proxies started' && wait_log 10 routerB 'Proxies started' || bad "routers did not start"

  # 0a. our worker (fake_tdx both ways) -> router A's -R port: PoW + TLS, frames reach the sink.
  start w "$COCOON" worker --proxy 127.0.0.1:$((P + 11)) --backend http://127.0.0.1:1 --model m \
    --http-listen 127.0.0.1:$((P + 31)) --log-level debug "${FAKE[@]}"
  check "our worker completed PoW+TLS with router -R@fake_tdx (router accepted its fake quote)" 30 sink 'answered tcp.connected'
  show sink 'AttestedPeerInfo tail'
  check "our worker accepted the router's fake_tdx certificate" 10 w "ev=net_ready .*policy=fake_tdx"
  stop w
  # 0b. our client, same.
  start c "$COCOON" client --proxy 127.0.0.1:$((P + 11)) --http-listen 127.0.0.1:$((P + 32)) \
    --log-level debug "${FAKE[@]}"
  check "our client completed PoW+TLS with router -R@fake_tdx" 30 c "ev=net_ready .*policy=fake_tdx"
  stop c

  # 0c. router A's SOCKS5 port dials our proxy: the router solves our PoW and does TLS; each side
  #     checks the other's fake quote; then tcp.connect/connected and ping/pong go through.
  start px "$COCOON" proxy --worker-listen 127.0.0.1:$((P + 41)) --client-listen 127.0.0.1:$((P + 42)) \
    --http-listen 127.0.0.1:$((P + 43)) --key-dir "$WORK/px-keys" --log-level debug "${FAKE[@]}"
  wait_log 10 px 'ev=net_listen' || bad "our proxy did not start"
  if $PEER socks $((P + 16)) 127.0.0.1:$((P + 41)) >"$WORK/socks.log" 2>&1; then
    ok "router -S@fake_tdx -> our proxy (fake_tdx): SOCKS5, PoW, TLS, tcp.connect and ping answered"
  else bad "router -S -> our proxy: $(tail -2 "$WORK/socks.log")"; fi
  sed 's/^/    socks| /' "$WORK/socks.log" | cut -c1-300
  check "our proxy saw the router attested with fake_tdx" 5 px "ev=net_ready .*dir=in.*policy=fake_tdx"

  # 0d. refusals. Our worker without a quote -> router A refuses it.
  start wn "$COCOON" worker --proxy 127.0.0.1:$((P + 11)) --backend http://127.0.0.1:1 --model m \
    --http-listen 127.0.0.1:$((P + 33)) --policy fake_tdx --quote-provider none
  check "router refused our worker without a quote" 30 routerA 'Invalid certificate: .*quote is required'
  grep -q 'ev=net_ready' "$WORK/wn.log" && bad "worker without quote became ready"
  stop wn
  # Router B (no quote) -> our worker refuses it.
  start wb "$COCOON" worker --proxy 127.0.0.1:$((P + 12)) --backend http://127.0.0.1:1 --model m \
    --http-listen 127.0.0.1:$((P + 34)) "${FAKE[@]}"
  check "our worker refused router B (certificate without a quote)" 30 wb 'ev=attest_refused'
  stop wb
  # Router B's SOCKS5 -> our fake_tdx proxy: our proxy refuses the router.
  $PEER socks $((P + 17)) 127.0.0.1:$((P + 41)) >"$WORK/socksB.log" 2>&1 &&
    bad "router B without a quote got through to our proxy"
  check "our proxy refused router B (no quote)" 10 px 'ev=attest_refused'
  # Router A's SOCKS5 -> our proxy without a quote: the router refuses our proxy.
  stop px
  start pn "$COCOON" proxy --worker-listen 127.0.0.1:$((P + 44)) --client-listen 127.0.0.1:$((P + 45)) \
    --http-listen 127.0.0.1:$((P + 46)) --key-dir "$WORK/pn-keys" --policy fake_tdx --quote-provider none
  wait_log 10 pn 'ev=net_listen' || bad "our proxy (no quote) did not start"
  $PEER socks $((P + 16)) 127.0.0.1:$((P + 44)) >"$WORK/socksN.log" 2>&1 &&
    bad "router A accepted our proxy without a quote"
  check "router -S@fake_tdx refused our proxy without a quote" 10 routerA 'TlsHandshake \[finished\] .*-> 127.0.0.1:'$((P + 44))'.*quote is required'
  stop pn
  stop routerA; stop routerB; stop sink; stop sinkB
}

MODEL='Qwen/Qwen3-8B@abc123def456:0000000000000000000000000000000000000000000000000000000000000000'
CHAT='{"model":"Qwen/Qwen3-8B","messages":[{"role":"user","content":"hi"}],"max_tokens":8}'
# http METHOD URL [BODY] -> HTTP_STATUS, HTTP_BODY ($WORK/http.body)
# --local-all's owner and root addresses, which their worker and client configurations name.
OWNER=UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m
ROOT=EQBT4hy4vMEZ9uxSCuhw_gBKh9_AwmHXLe7Wo0O4Vh-4kRjJ
# their_worker_config HTTP_PORT SOCKS_PORT BACKEND_PORT MAX_ACTIVE OUT: a worker-runner
# configuration with --local-all's keys, dialling out through the router's SOCKS5 port.
their_worker_config() {
  printf '%s\n' "{ \"is_test\": true, \"is_testnet\": false, \"http_port\": $1, \"proxy_connections\": 1," \
    "\"model_name\": \"$MODEL\", \"ton_config_filename\": \"\", \"owner_address\": \"$OWNER\"," \
    "\"image_hash\": \"WorkerWorkerWorkerWorkerWorkerWorkerWorkerU=\", \"root_contract_address\": \"$ROOT\"," \
    "\"node_wallet_key\": \"jYYD/HjU0K2D/xpistoFM4BruJhY3koI1xuO00xd7PI=\"," \
    "\"connect_to_proxy_via\": \"127.0.0.1:$2\", \"forward_requests_to\": \"127.0.0.1:$3\"," \
    "\"coefficient\": 0, \"max_active_requests\": $4 }" >"$5"
}
# their_client_config HTTP_PORT SOCKS_PORT OUT: the same for client-runner.
their_client_config() {
  printf '%s\n' "{ \"is_test\": true, \"is_testnet\": false, \"http_port\": $1, \"proxy_connections\": 1," \
    "\"connect_to_proxy_via\": \"127.0.0.1:$2\", \"owner_address\": \"$OWNER\"," \
    "\"root_contract_address\": \"$ROOT\", \"node_wallet_key\": \"gaEatwGNgLGOeFI/TRGfPdJG/K4G8picYHQkDHpLQ9w=\"," \
    "\"check_proxy_hashes\": false, \"secret_string\": \"\", \"ton_config_filename\": \"\" }" >"$3"
}

http() {
  rm -f "$WORK/http.body" # curl leaves the previous body in place when the answer has none
  HTTP_STATUS=$(curl -s -m 60 -o "$WORK/http.body" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$2")
  HTTP_BODY=$(head -c 400 "$WORK/http.body" 2>/dev/null)
}

check2() {
  echo "== check 2: our client and worker, their proxy-runner behind their router (work dir $WORK)"
  fake_ton_config $((P + 51)) $((P + 52)) "$WORK/fake-ton-config.json" || return
  # --local-all's proxy values (owner, root address, keys, image hash), our ports and folders.
  cat >"$WORK/proxy-config.json" <<EOF
{ "is_test": true, "is_testnet": false, "http_port": $((P + 100)),
  "workers_rpc_port": $((P + 101)), "client_rpc_port": $((P + 102)), "ton_config_filename": "",
  "owner_address": "UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m",
  "image_hash": "ProxyProxyProxyProxyProxyProxyProxyProxyPro=",
  "node_wallet_key": "ml+7xELuOQtfp9q9mSWtHiSWx5aSBV6p3xCfwPmHOwY=",
  "root_contract_address": "EQBT4hy4vMEZ9uxSCuhw_gBKh9_AwmHXLe7Wo0O4Vh-4kRjJ",
  "machine_specific_private_key": "ml+7xELuOQtfp9q9mSWtHiSWx5aSBV6p3xCfwPmHOwY=",
  "db_path": "$WORK/proxy-db" }
EOF
  start theirproxy "$CB/proxy-runner" --config "$WORK/proxy-config.json" -v 3 --disable-ton "$WORK/fake-ton-config.json"
  start router2 "$ROUTER" -v 3 -R $((P + 51)):127.0.0.1:$((P + 101))@any -R $((P + 52)):127.0.0.1:$((P + 102))@any \
    --serialize-info
  start backend "$BACKEND" --listen 127.0.0.1:$((P + 80)) --model Qwen/Qwen3-8B --chunks 3
  sleep 2
  start ow "$COCOON" worker --proxy 127.0.0.1:$((P + 51)) --backend http://127.0.0.1:$((P + 80)) \
    --model "$MODEL" --http-listen 127.0.0.1:$((P + 61)) --log-level debug
  start oc "$COCOON" client --proxy 127.0.0.1:$((P + 52)) --http-listen 127.0.0.1:$((P + 62)) --log-level debug
  check "our worker: proxy_ready with their proxy-runner" 60 ow 'ev=proxy_ready'
  check "our client: proxy_ready with their proxy-runner" 60 oc 'ev=proxy_ready'
  local CURL=http://127.0.0.1:$((P + 62)) i
  for i in $(seq 1 30); do
    http GET "$CURL/v1/models"; grep -q 'Qwen/Qwen3-8B' "$WORK/http.body" && break; sleep 1
  done
  if grep -q 'Qwen/Qwen3-8B' "$WORK/http.body"; then ok "GET /v1/models through their proxy lists the model"
  else bad "GET /v1/models: $HTTP_STATUS $HTTP_BODY"; fi
  echo "    models| $HTTP_BODY"
  http POST "$CURL/v1/chat/completions" "$CHAT"
  if [ "$HTTP_STATUS" = 200 ]; then ok "non-streamed chat through their proxy: 200"; else bad "chat: $HTTP_STATUS $HTTP_BODY"; fi
  echo "    chat| $HTTP_BODY" | cut -c1-300
  http POST "$CURL/v1/chat/completions" "${CHAT%\}},\"stream\":true}"
  if [ "$HTTP_STATUS" = 200 ] && grep -q 'data: \[DONE\]' "$WORK/http.body"; then ok "streamed chat through their proxy: 200, [DONE]"
  else bad "streamed chat: $HTTP_STATUS $HTTP_BODY"; fi
  http POST "$CURL/v1/chat/completions" '{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}'
  if [ "$HTTP_STATUS" != 200 ]; then ok "unknown model refused: $HTTP_STATUS"; else bad "unknown model answered 200"; fi
  echo "    unknown| $HTTP_BODY" | cut -c1-300
  grep -E 'ev=(request_done|request_failed|proxy_ready)' "$WORK/oc.log" | cut -c1-250 | sed 's/^/    oc| /'
  grep -E 'ev=(request_done|request_failed|proxy_ready)' "$WORK/ow.log" | cut -c1-250 | sed 's/^/    ow| /'
  stop oc; stop ow; stop backend; stop router2; stop theirproxy
}

# fake_ton_config PORT_W PORT_C OUT: fake-TON root configuration rendered as cocoon-launch
# --local-all does, listing a proxy at 127.0.0.1:PORT_W (workers) and PORT_C (clients).
fake_ton_config() {
  local src vars
  src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$CB/CMakeCache.txt")
  vars=$src/spec/fake-ton/runtime.vars
  [ -f "$vars" ] || { bad "no $vars (COCOON source of $CB)"; return 1; }
  sed -e "s|\$MODEL_NAME|Qwen/Qwen3-8B|; s|\$EXTERNAL_IP|127.0.0.1|g" \
      -e "s|\$EXTERNAL_WORKER_PORT|$1|; s|\$EXTERNAL_CLIENT_PORT|$2|" \
      -e "s|\$PROXY_SC_CODE|$(sed -n 's/^PROXY_SC_CODE=//p' "$vars")|" \
      -e "s|\$WORKER_SC_CODE|$(sed -n 's/^WORKER_SC_CODE=//p' "$vars")|" \
      -e "s|\$CLIENT_SC_CODE|$(sed -n 's/^CLIENT_SC_CODE=//p' "$vars")|" \
      "$src/spec/fake-ton/fake-ton-config.json" >"$3"
}

# Check 1: our proxy in COCOON's fake-TON mode (--fake-ton-config, --root-contract-address) derives
# the proxy, worker and client contract addresses as their runners do, and they check them.
check1() {
  echo "== check 1: their worker and client, our proxy, through their router's SOCKS5 (work dir $WORK)"
  fake_ton_config $((P + 141)) $((P + 142)) "$WORK/fake-ton-config1.json" || return
  their_worker_config $((P + 120)) $((P + 116)) $((P + 80)) 60 "$WORK/worker-config.json"
  their_client_config $((P + 130)) $((P + 116)) "$WORK/client-config.json"
  # The fake-TON root configuration has version 3; their client asks for at least that.
  start ourproxy "$COCOON" proxy --worker-listen 127.0.0.1:$((P + 141)) --client-listen 127.0.0.1:$((P + 142)) \
    --http-listen 127.0.0.1:$((P + 143)) --key-dir "$WORK/ourproxy-keys" --is-test=true --client-secret "" \
    --fake-ton-config "$WORK/fake-ton-config1.json" --root-contract-address "$ROOT" --owner-address "$OWNER" \
    --log-level debug
  start backend1 "$BACKEND" --listen 127.0.0.1:$((P + 80)) --model Qwen/Qwen3-8B --chunks 3
  start router1 "$ROUTER" -v 3 -S $((P + 116))@any --serialize-info
  wait_log 10 router1 'Proxies started' || bad "router did not start"
  start theirworker "$CB/worker-runner" --config "$WORK/worker-config.json" -v 3 --disable-ton "$WORK/fake-ton-config1.json"
  start theirclient "$CB/client-runner" --config "$WORK/client-config.json" -v 3 --disable-ton "$WORK/fake-ton-config1.json"
  check "their worker reached our proxy through their router (PoW + TLS + worker hello)" 40 ourproxy 'ev=worker_hello'
  check "their client reached our proxy and authorized (short auth)" 40 ourproxy 'ev=client_authorized'
  check "our proxy announced the contract addresses COCOON derives" 5 ourproxy 'ev=fake_ton_config .*proxy_sc='
  local CURL=http://127.0.0.1:$((P + 130)) i
  for i in $(seq 1 40); do
    http GET "$CURL/v1/models"; grep -q 'Qwen/Qwen3-8B' "$WORK/http.body" && break; sleep 1
  done
  if grep -q 'Qwen/Qwen3-8B' "$WORK/http.body"; then ok "GET /v1/models on their client lists the worker's model (via our proxy)"
  else bad "GET /v1/models: $HTTP_STATUS $HTTP_BODY"; fi
  echo "    models| $HTTP_BODY" | cut -c1-300
  http POST "$CURL/v1/chat/completions" "$CHAT"
  if [ "$HTTP_STATUS" = 200 ] && grep -q 'choices' "$WORK/http.body"; then ok "non-streamed chat, their client -> our proxy -> their worker: 200"
  else bad "chat: $HTTP_STATUS $HTTP_BODY"; fi
  echo "    chat| $HTTP_BODY" | cut -c1-300
  http POST "$CURL/v1/chat/completions" "${CHAT%\}},\"stream\":true}"
  if [ "$HTTP_STATUS" = 200 ] && grep -q 'data: \[DONE\]' "$WORK/http.body"; then ok "streamed chat through our proxy: 200, [DONE]"
  else bad "streamed chat: $HTTP_STATUS $HTTP_BODY"; fi
  check "our proxy recorded the requests in its ledger" 10 ourproxy 'ev=request_done'
  if grep -aqE 'failing connection|UNEXPECTED|mismatch' "$WORK/theirworker.log" "$WORK/theirclient.log"; then
    bad "their side dropped a connection:"; show theirworker 'failing connection'; show theirclient 'failing connection'
  else ok "their worker and client kept their connections (no contract-address or payment complaint)"; fi
  # Last, because any error answer crashes COCOON's client (b75d444): ClientRunningRequest::
  # return_error_str calls finish_request(false, nullptr), which reads final_info->... (SIGSEGV).
  http POST "$CURL/v1/chat/completions" '{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}'
  check "our proxy refused the unknown model with its reason" 5 ourproxy "ev=request_rejected .*no worker serves model 'no-such-model'"
  sleep 1
  if kill -0 "$PID_theirclient" 2>/dev/null; then echo "    their client answered $HTTP_STATUS: $HTTP_BODY" | cut -c1-300
  else echo "    note: their client-runner died on that error answer (their bug, see above): $(grep -a -m1 'Signal' "$WORK/theirclient.log")"; fi
  grep -aE 'ev=(request_done|request_failed|worker_refused|client_refused)' "$WORK/ourproxy.log" | cut -c1-250 |
    sed 's/^/    ourproxy| /'
  stop theirclient; stop theirworker; stop router1; stop backend1; stop ourproxy
}

# bench: the same test backend (50 SSE chunks of 128 bytes plus usage) loaded by wrk at 1 and 30
# keep-alive connections directly, through COCOON's chain (its router, proxy-runner, worker-runner
# and client-runner, fake-TON, as --local-all runs them) and through ours (client, proxy, worker),
# in one run on this machine. Prints req/s, p50, p99 and the CPU µs per request of each chain's
# processes (from /proc). DURATION=seconds per load (default 10). Both chains log warnings only.
bench() {
  echo "== bench: COCOON's chain and ours, same backend, same run (work dir $WORK)"
  command -v wrk >/dev/null || { bad "wrk is not installed (apt-get install wrk)"; return; }
  local dur=${DURATION:-10}
  fake_ton_config $((P + 151)) $((P + 152)) "$WORK/fake-ton-bench.json" || return
  start bbackend "$BACKEND" --listen 127.0.0.1:$((P + 180)) --model Qwen/Qwen3-8B --chunks 50 --chunk-bytes 128 \
    --log-level warn
  printf '%s\n' "{ \"is_test\": true, \"is_testnet\": false, \"http_port\": $((P + 150))," \
    "\"workers_rpc_port\": $((P + 161)), \"client_rpc_port\": $((P + 162)), \"ton_config_filename\": \"\"," \
    "\"owner_address\": \"$OWNER\", \"image_hash\": \"ProxyProxyProxyProxyProxyProxyProxyProxyPro=\"," \
    "\"node_wallet_key\": \"ml+7xELuOQtfp9q9mSWtHiSWx5aSBV6p3xCfwPmHOwY=\", \"root_contract_address\": \"$ROOT\"," \
    "\"machine_specific_private_key\": \"ml+7xELuOQtfp9q9mSWtHiSWx5aSBV6p3xCfwPmHOwY=\", \"db_path\": \"$WORK/bproxy-db\" }" \
    >"$WORK/bproxy-config.json"
  their_worker_config $((P + 170)) $((P + 156)) $((P + 180)) 1000 "$WORK/bworker-config.json"
  their_client_config $((P + 171)) $((P + 156)) "$WORK/bclient-config.json"
  start brouter "$ROUTER" -v 2 -S $((P + 156))@any -R $((P + 151)):127.0.0.1:$((P + 161))@any \
    -R $((P + 152)):127.0.0.1:$((P + 162))@any --serialize-info
  start bproxy "$CB/proxy-runner" --config "$WORK/bproxy-config.json" -v 2 --disable-ton "$WORK/fake-ton-bench.json"
  sleep 2
  start bworker "$CB/worker-runner" --config "$WORK/bworker-config.json" -v 2 --disable-ton "$WORK/fake-ton-bench.json"
  start bclient "$CB/client-runner" --config "$WORK/bclient-config.json" -v 2 --disable-ton "$WORK/fake-ton-bench.json"
  start oproxy "$COCOON" proxy --worker-listen 127.0.0.1:$((P + 191)) --client-listen 127.0.0.1:$((P + 192)) \
    --http-listen 127.0.0.1:$((P + 193)) --key-dir "$WORK/oproxy-keys" --log-level warn
  sleep 1
  start oworker "$COCOON" worker --proxy 127.0.0.1:$((P + 191)) --backend http://127.0.0.1:$((P + 180)) \
    --model "$MODEL" --max-active-requests 1000 --http-listen 127.0.0.1:$((P + 194)) --key-dir "$WORK/oworker-keys" \
    --log-level warn
  start oclient "$COCOON" client --proxy 127.0.0.1:$((P + 192)) --http-listen 127.0.0.1:$((P + 195)) \
    --key-dir "$WORK/oclient-keys" --log-level warn
  local u i
  for u in $((P + 171)) $((P + 195)); do
    for i in $(seq 1 60); do
      curl -sf -m 5 "http://127.0.0.1:$u/v1/models" 2>/dev/null | grep -q 'Qwen/Qwen3-8B' && break; sleep 1
    done
    curl -sf -m 5 "http://127.0.0.1:$u/v1/models" | grep -q 'Qwen/Qwen3-8B' ||
      { bad "the chain behind :$u never listed the model"; return; }
  done
  printf '%s\n' 'wrk.method = "POST"' 'wrk.headers["Content-Type"] = "application/json"' \
    "wrk.body = '{\"model\":\"Qwen/Qwen3-8B\",\"stream\":true,\"max_tokens\":8000,\"messages\":[{\"role\":\"user\",\"content\":\"Say something about the sea, please.\"}]}'" \
    >"$WORK/post.lua"
  local hz; hz=$(getconf CLK_TCK)
  ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }
  load() { # load PORT CONNS -> RPS P50 P99 REQS NON2XX
    local out
    out=$(wrk -t "$(( $2 < 2 ? 1 : 2 ))" -c "$2" -d "${dur}s" --latency -s "$WORK/post.lua" \
      "http://127.0.0.1:$1/v1/chat/completions")
    RPS=$(echo "$out" | awk '/Requests\/sec/ {print $2}'); REQS=$(echo "$out" | awk '/requests in/ {print $1}')
    P50=$(echo "$out" | awk '$1=="50%" {print $2}'); P99=$(echo "$out" | awk '$1=="99%" {print $2}')
    NON2XX=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  }
  row() { # row NAME PORT CONNS PIDS...
    local name=$1 port=$2 c=$3; shift 3
    local t0 t1 cpu=-
    t0=$(ticks "$@"); load "$port" "$c"; t1=$(ticks "$@")
    [ $# -gt 0 ] && cpu=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="${REQS:-0}" \
      'BEGIN{ if (n>0) printf "%.0f", t/hz*1e6/n; else print "n/a"}')
    printf "%-38s %5s %10s %10s %10s %12s%s\n" "$name" "$c" "$RPS" "$P50" "$P99" "$cpu" "${NON2XX:+  non-2xx: $NON2XX}"
  }
  printf "%-38s %5s %10s %10s %10s %12s\n" path conns "req/s" p50 p99 "CPU us/req"
  for c in 1 30; do
    row "backend direct" $((P + 180)) $c
    row "COCOON client->router->proxy->worker" $((P + 171)) $c "$PID_bclient" "$PID_brouter" "$PID_bproxy" "$PID_bworker"
    row "cocoon client->proxy->worker" $((P + 195)) $c "$PID_oclient" "$PID_oproxy" "$PID_oworker"
  done
  ok "bench ran (COCOON's CPU includes its router, which does the PoW/TLS work our daemons do themselves)"
  stop oclient; stop oworker; stop oproxy; stop bclient; stop bworker; stop bproxy; stop brouter; stop bbackend
}

case $WHAT in
  check0) check0 ;;
  check1) check1 ;;
  check2) check2 ;;
  bench) bench ;;
  all) check0; check2; check1 ;;
esac
echo "interop-cocoon: $FAILS failure(s)"
[ "$FAILS" = 0 ]
