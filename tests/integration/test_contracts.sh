#!/usr/bin/env bash
# test_contracts: the Tolk contracts (contracts/) in the TON emulator, @ton/sandbox under node --test,
# including payments signed by this cocoon binary (`cocoon ton sign-payment`).
# SPDX-License-Identifier: Apache-2.0
# Usage: test_contracts.sh COCOON [unused]
set -euo pipefail

COCOON=$(realpath "${1:?path to cocoon binary}")
DIR=$(cd "$(dirname "$0")/../../contracts" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node and npm are not installed; the contract tests cannot run"
  exit 0
fi
if [ ! -d "$DIR/node_modules/@ton/sandbox" ] || [ ! -d "$DIR/node_modules/@ton/tolk-js" ]; then
  echo "installing the pinned contract packages (npm ci) in $DIR"
  (cd "$DIR" && npm ci --no-audit --no-fund) || { echo "FAIL: npm ci failed in $DIR" >&2; exit 1; }
fi
cd "$DIR"
COCOON_BIN="$COCOON" node --test tests/
