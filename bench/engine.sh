#!/usr/bin/env bash
# engine: prompt processing (128 tokens) and decode (64 tokens) tok/s of the built-in engine and of
# llama.cpp (node-llama-cpp, tests/engine) on the same generated files, at 1 and 2 threads, in
# the same run; the ratios; our peak resident memory next to file size + KV cache + 64 MB.
# SPDX-License-Identifier: Apache-2.0
# Usage: bench/engine.sh [BUILD_DIR] (default build). Environment: REPS=3 (best of), MODELS=dir to
# keep the generated models between runs (default: a temporary folder), THREADS="1 2",
# ONLY="qwen2.5-0.5b:q8_0" to run one model, COCOON_ENGINE_KERNELS to force a kernel path,
# LLAMA_TIMEOUT=300 (seconds per llama.cpp run: its 2-thread decode can collapse to ~1 tok/s while
# other processes keep the CPUs busy; a run cut off shows as "timeout").
# Figures are wall-clock, best of REPS rounds (each engine runs once per round, after a warm-up):
# on a shared machine other processes lower them, so compare ratios from one run.
set -euo pipefail
build=${1:-build}
reps=${REPS:-3}
threads=${THREADS:-"1 2"}
root=$(cd "$(dirname "$0")/.." && pwd)
cocoon="$build/cocoon"
bench="$build/cocoon-bench-engine"
for b in "$cocoon" "$bench"; do
  [ -x "$b" ] || { echo "bench: $b not built (ninja -C $build cocoon cocoon-bench-engine)" >&2; exit 1; }
done
have_llama=1
if [ ! -d "$root/tests/engine/node_modules/node-llama-cpp" ] || ! command -v node >/dev/null; then
  echo "bench: node-llama-cpp not installed (make node-deps); llama.cpp columns left out" >&2
  have_llama=0
fi
if [ -n "${MODELS:-}" ]; then
  dir=$MODELS
  mkdir -p "$dir"
else
  dir=$(mktemp -d /tmp/cocoon-bench-engine.XXXXXX)
  trap 'rm -rf "$dir"' EXIT
fi
models=${ONLY:-"qwen2.5-0.5b:q8_0 qwen2.5-0.5b:q4_k qwen3-0.6b:q8_0"}

get() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b + 0 > a + 0) ? b : a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else printf "-" }'; }

printf "%-22s %3s | %9s %9s %6s | %9s %9s %6s | %s\n" model thr "pp128" "llama" ratio "tg64" "llama" ratio \
  "memory (MB): RSS peak / file + KV + 64"
for spec in $models; do
  preset=${spec%%:*}
  type=${spec##*:}
  file="$dir/$preset-$type.gguf"
  [ -s "$file" ] || "$cocoon" gen-model --out "$file" --preset "$preset" --type "$type" >/dev/null
  fmb=$(($(stat -c %s "$file") / 1000000))
  for t in $threads; do
    # The two engines alternate, one measured pass each (after its own warm-up) per round, and
    # each keeps its best round: a burst of load from other processes then hits both alike.
    pp=0 tg=0 lpp=- ltg=-
    for _ in $(seq 1 "$reps"); do
      ours=$("$bench" "$file" "$t" 128 64 1)
      pp=$(best "$pp" "$(get pp128 "$ours")")
      tg=$(best "$tg" "$(get tg64 "$ours")")
      if [ "$have_llama" = 1 ] && [ "$lpp" != timeout ]; then
        if theirs=$(timeout "${LLAMA_TIMEOUT:-300}" node "$root/bench/engine_llama.cjs" "$file" "$t" 128 64 1); then
          lpp=$(best "${lpp/-/0}" "$(get pp128 "$theirs")")
          ltg=$(best "${ltg/-/0}" "$(get tg64 "$theirs")")
        else
          lpp=timeout ltg=timeout
        fi
      fi
    done
    kvmb=$(($(get kv_bytes "$ours") / 1000000))
    rss=$(($(get vmhwm_kb "$ours") * 1024 / 1000000))
    budget=$((fmb + kvmb + 64))
    verdict=ok
    [ "$rss" -le "$budget" ] || verdict=OVER
    printf "%-22s %3s | %9s %9s %6s | %9s %9s %6s | %d / %d + %d + 64 = %d %s\n" "$preset $type" "$t" "$pp" "$lpp" \
      "$(ratio "$pp" "$lpp")" "$tg" "$ltg" "$(ratio "$tg" "$ltg")" "$rss" "$fmb" "$kvmb" "$budget" "$verdict"
  done
done
echo "kernels: $(get kernels "$ours"); load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
