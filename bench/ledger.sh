#!/usr/bin/env bash
# ledger: committed requests per second through the ledger's group commit (WAL, synchronous=FULL),
# with the queue bound at its default (16384) and at 1024. Prints requests/s, fsyncs/s, batch size.
# SPDX-License-Identifier: Apache-2.0
# Usage: bench/ledger.sh [BUILD_DIR] (default build); DURATION=5 for seconds per run, DIR=/tmp.
set -euo pipefail
build=${1:-build}
dur=${DURATION:-5}
dir=${DIR:-/tmp}
bin="$build/cocoon-bench-ledger"
[ -x "$bin" ] || { echo "bench: $bin not built (ninja -C $build cocoon-bench-ledger)" >&2; exit 1; }
for q in 16384 1024; do
  "$bin" "$dur" "$q" "$dir"
  echo
done
