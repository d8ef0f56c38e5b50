#!/usr/bin/env bash
# lib: helpers for integration tests: start the real daemons on loopback, wait, clean up.
# SPDX-License-Identifier: Apache-2.0
# Usage from a test: source lib.sh "$COCOON" "$BACKEND"; then net_start ...; ends with cleanup.
set -euo pipefail

COCOON=${1:?path to cocoon binary}
BACKEND=${2:?path to cocoon-testbackend binary}
WORK=$(mktemp -d /tmp/cocoon-it.XXXXXX)
PIDS=()
FAILED=0

cleanup() {
  local rc=$?
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ] || [ $FAILED -ne 0 ]; then
    echo "---- logs ($WORK) ----"
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -40 "$f"; }; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; FAILED=1; exit 1; }
pass() { echo "ok: $*"; }

# wait_ready FILE: waits until a daemon wrote its ready file (key=value lines).
wait_ready() {
  local f=$1 i
  for i in $(seq 1 300); do [ -s "$f" ] && return 0; sleep 0.05; done
  fail "timed out waiting for $f"
}
# ready_get FILE KEY
ready_get() { sed -n "s/^$2=//p" "$1" | head -1; }

# start NAME CMD...: runs a daemon in the background with its log in $WORK/NAME.log.
start() {
  local name=$1; shift
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
  PIDS+=($!)
  eval "PID_$name=$!"
}

start_backend() { # start_backend NAME [flags...] -> sets BACKEND_URL_<NAME>
  local name=$1; shift
  start "$name" "$BACKEND" --listen 127.0.0.1:0 "$@"
  local i url=
  for i in $(seq 1 200); do url=$(head -1 "$WORK/$name.out" 2>/dev/null || true); [ -n "$url" ] && break; sleep 0.05; done
  [ -n "$url" ] || fail "backend $name did not start"
  eval "BACKEND_URL_$name=$url"
}

start_proxy() { # start_proxy NAME [flags...]
  local name=$1; shift
  start "$name" "$COCOON" proxy --worker-listen 127.0.0.1:0 --client-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 --pow-difficulty 8 --key-dir "$WORK/$name-keys" --ready-file "$WORK/$name.ready" "$@"
  wait_ready "$WORK/$name.ready"
}

start_worker() { # start_worker NAME PROXY_ADDR BACKEND_URL [flags...]
  local name=$1 proxy=$2 backend=$3; shift 3
  start "$name" "$COCOON" worker --proxy "$proxy" --backend "$backend" --model test-model \
    --http-listen 127.0.0.1:0 --key-dir "$WORK/$name-keys" --ready-file "$WORK/$name.ready" "$@"
  wait_ready "$WORK/$name.ready"
}

start_client() { # start_client NAME PROXY_ADDR [flags...]
  local name=$1 proxy=$2; shift 2
  start "$name" "$COCOON" client --proxy "$proxy" --http-listen 127.0.0.1:0 \
    --key-dir "$WORK/$name-keys" --ready-file "$WORK/$name.ready" "$@"
  wait_ready "$WORK/$name.ready"
}

# wait_until SECONDS CMD...: retries CMD until it succeeds.
wait_until() {
  local secs=$1; shift
  local end=$(( $(date +%s) + secs ))
  while ! "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$end" ] && return 1
    sleep 0.1
  done
}

# http METHOD URL [BODY] -> prints body, sets HTTP_STATUS
http() {
  local method=$1 url=$2 body=${3:-}
  local out="$WORK/http.$$.$RANDOM"
  if [ -n "$body" ]; then
    HTTP_STATUS=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' \
      --max-time 30 --data-binary "$body" "$url" || true)
  else
    HTTP_STATUS=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" --max-time 30 "$url" || true)
  fi
  HTTP_STATUS=${HTTP_STATUS:-000}
  HTTP_BODY=$(cat "$out" 2>/dev/null || true)
  rm -f "$out"
}
