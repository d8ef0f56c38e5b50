#!/usr/bin/env bash
# forward: overhead of the network path. The test backend streaming 50 SSE chunks of 128 bytes
# plus usage, loaded by wrk at 1 and 30 keep-alive connections, directly and through
# client -> proxy -> worker. Prints req/s, p50, p99, the ratio, and CPU µs per request.
# SPDX-License-Identifier: Apache-2.0
# Usage: bench/forward.sh [BUILD_DIR] (default build); DURATION=10 for seconds per run.
set -euo pipefail
build=${1:-build}
dur=${DURATION:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
cocoon="$build/cocoon"
backend="$build/cocoon-testbackend"
command -v wrk >/dev/null || { echo "bench: wrk not installed (apt-get install wrk)" >&2; exit 1; }
work=$(mktemp -d /tmp/cocoon-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"test-model","stream":true,"max_tokens":8000,"messages":[{"role":"user","content":"Say something about the sea, please."}]}'
LUA

wait_file() { for _ in $(seq 1 300); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "bench: $1 missing" >&2; exit 1; }
get() { sed -n "s/^$2=//p" "$1" | head -1; }

"$backend" --listen 127.0.0.1:0 --chunks 50 --chunk-bytes 128 >"$work/backend.out" 2>"$work/backend.log" &
pids+=($!); bpid=$!
for _ in $(seq 1 200); do [ -s "$work/backend.out" ] && break; sleep 0.05; done
burl=$(head -1 "$work/backend.out")

"$cocoon" proxy --worker-listen 127.0.0.1:0 --client-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --key-dir "$work/pk" --ready-file "$work/proxy.ready" --log-level warn 2>"$work/proxy.log" &
pids+=($!); ppid_=$!
wait_file "$work/proxy.ready"
"$cocoon" worker --proxy "$(get "$work/proxy.ready" worker_addr)" --backend "$burl" --model test-model \
  --http-listen 127.0.0.1:0 --key-dir "$work/wk" --ready-file "$work/worker.ready" --log-level warn 2>"$work/worker.log" &
pids+=($!); wpid=$!
wait_file "$work/worker.ready"
"$cocoon" client --proxy "$(get "$work/proxy.ready" client_addr)" --http-listen 127.0.0.1:0 \
  --key-dir "$work/ck" --ready-file "$work/client.ready" --log-level warn 2>"$work/client.log" &
pids+=($!); cpid=$!
wait_file "$work/client.ready"
curl_url="$(get "$work/client.ready" http_url)"
for _ in $(seq 1 100); do
  curl -sf "$curl_url/v1/models" | grep -q test-model && break; sleep 0.1
done

# "commits write_us committed" from the proxy's /jsonstats billing section.
ledger_stats() {
  curl -sf "$(get "$work/proxy.ready" http_url)/jsonstats" |
    sed -n 's/.*"committed":\([0-9]*\).*"ledger_commits":\([0-9]*\),"ledger_write_us":\([0-9]*\).*/\2 \3 \1/p'
}
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }
hz=$(getconf CLK_TCK)

run() { # run URL CONNS -> sets RPS P50 P99 REQS
  local out
  out=$(wrk -t "$(( $2 < 2 ? 1 : 2 ))" -c "$2" -d "${dur}s" --latency -s "$work/post.lua" "$1/v1/chat/completions")
  RPS=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  P50=$(echo "$out" | awk '$1=="50%" {print $2}')
  P99=$(echo "$out" | awk '$1=="99%" {print $2}')
  REQS=$(echo "$out" | awk '/requests in/ {print $1}')
  if echo "$out" | grep -q "Non-2xx"; then echo "bench: non-2xx answers:"; echo "$out" | grep Non-2xx; fi
}

printf "%-28s %6s %12s %10s %10s\n" path conns "req/s" p50 p99
for c in 1 30; do
  run "$burl" $c; d_rps=$RPS
  printf "%-28s %6s %12s %10s %10s\n" "backend direct" $c "$RPS" "$P50" "$P99"
  t0=$(cpu_ticks $cpid $ppid_ $wpid); c0=$(cpu_ticks $cpid); p0=$(cpu_ticks $ppid_); w0=$(cpu_ticks $wpid)
  l0=$(ledger_stats)
  run "$curl_url" $c
  t1=$(cpu_ticks $cpid $ppid_ $wpid); c1=$(cpu_ticks $cpid); p1=$(cpu_ticks $ppid_); w1=$(cpu_ticks $wpid)
  l1=$(ledger_stats)
  printf "%-28s %6s %12s %10s %10s\n" "client->proxy->worker" $c "$RPS" "$P50" "$P99"
  ratio=$(awk -v a="$RPS" -v b="$d_rps" 'BEGIN{printf "%.1f", 100*a/b}')
  cpu=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$REQS" 'BEGIN{ if (n>0) printf "%.0f", t/hz*1e6/n; else print "n/a"}')
  per() { awk -v t="$1" -v hz="$hz" -v n="$REQS" 'BEGIN{ if (n>0) printf "%.0f", t/hz*1e6/n; else print "n/a"}'; }
  echo "  c=$c: chain/direct = ${ratio}% ; CPU of client+proxy+worker = ${cpu} us/request ($REQS requests):" \
       "client $(per $((c1 - c0))), proxy $(per $((p1 - p0))), worker $(per $((w1 - w0)))"
  echo "$l0 $l1" | awk '{ n = $4 - $1; if (n > 0) printf "  ledger: %d commits, %.1f requests per commit, %.0f us per commit (fsync included)\n", n, ($6 - $3) / n, ($5 - $2) / n }'
done
