#!/usr/bin/env bash
# batch: continuous batching of the built-in engine. Generates a model with the real shapes of
# Qwen2.5-0.5B (Q8_0, random weights run exactly as fast as trained ones) and prints the
# aggregate decode tok/s of 8 concurrent sequences vs a single one, with the ratio (target >= 4x),
# and resident memory, measured on the scheduler directly (cocoon-bench-batch).
# SPDX-License-Identifier: Apache-2.0
# Usage: bench/batch.sh [BUILD_DIR] (default build)
#   BATCH_PRESET=qwen2.5-0.5b|qwen3-0.6b|tiny  BATCH_TYPE=q8_0  BATCH_THREADS="1 2"
#   BATCH_SEQS=8  BATCH_PROMPT=32  BATCH_GEN=32  BATCH_ROUNDS=3 (alternating 1 and 8 sequences, best of each)
#   BATCH_MODEL=file.gguf (skip generation)
set -euo pipefail
build=${1:-build}
preset=${BATCH_PRESET:-qwen2.5-0.5b}
type=${BATCH_TYPE:-q8_0}
threads=${BATCH_THREADS:-1 2}
seqs=${BATCH_SEQS:-8}
prompt=${BATCH_PROMPT:-32}
gen=${BATCH_GEN:-32}
rounds=${BATCH_ROUNDS:-3}
bin="$build/cocoon-bench-batch"
[ -x "$bin" ] || { echo "bench: $bin missing (ninja -C $build cocoon-bench-batch)" >&2; exit 1; }
model=${BATCH_MODEL:-}
if [ -z "$model" ]; then
  # Generated once per preset and type, kept between runs (a 0.5B model takes a while to write).
  model="${TMPDIR:-/tmp}/cocoon-bench-$preset-$type.gguf"
  [ -s "$model" ] || "$build/cocoon" gen-model --out "$model" --preset "$preset" --type "$type"
fi
echo "== continuous batching: $seqs concurrent sequences vs 1 ($(nproc) CPUs, $(uname -m))"
for t in $threads; do
  echo "-- $t thread(s)"
  "$bin" "$model" "$t" "$seqs" "$prompt" "$gen" "$rounds"
done
