#!/usr/bin/env bash
# attest: RA-TLS handshakes per second under the any, sim and tdx policies (cached and uncached
# verdicts) and raw DCAP verifications of a real TDX quote when ../shared/data/tdx is present.
# SPDX-License-Identifier: Apache-2.0
# Usage: bench/attest.sh [BUILD_DIR] (default build); DURATION=2 for seconds per case.
set -euo pipefail
build=${1:-build}
dur=${DURATION:-2}
bin="$build/cocoon-bench-attest"
[ -x "$bin" ] || { echo "bench: $bin not built (ninja -C $build cocoon-bench-attest)" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
quote="$here/../shared/data/tdx/quote-cocoon.bin"
[ -f "$quote" ] || quote=/nonexistent/quote-cocoon.bin
"$bin" "$dur" "$quote"
