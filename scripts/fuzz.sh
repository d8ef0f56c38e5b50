#!/usr/bin/env bash
# fuzz: runs every libFuzzer harness of a COCOON_FUZZ build for a bounded time each.
# SPDX-License-Identifier: Apache-2.0
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS. New findings land in BUILD_DIR/fuzz-work/<name>/.
set -euo pipefail
build=$1
secs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus="$root/tests/fuzz/corpus/${name#fuzz_}"
  work="$build/fuzz-work/$name"
  mkdir -p "$work"
  echo "fuzz: $name for ${secs}s"
  if ! "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$work/" -print_final_stats=0 "$work" "$corpus" >"$work/log" 2>&1; then
    echo "fuzz: $name FAILED; see $work/log" >&2
    tail -30 "$work/log" >&2
    status=1
  fi
done
exit $status
