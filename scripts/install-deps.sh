#!/usr/bin/env bash
# install-deps: installs the Debian 12 packages the build, tests, demo and benchmarks need.
# SPDX-License-Identifier: Apache-2.0
# Usage: scripts/install-deps.sh [extra-package ...]. Installs only what is missing.
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config libssl-dev libjansson-dev
      libcurl4-openssl-dev libcmocka-dev node-llhttp libsqlite3-dev clang libclang-rt-14-dev curl "$@")
# Node.js runs the TON oracle tests (@ton/core); a machine that already has node keeps its own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then pkgs+=(nodejs npm); fi
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root or install them" >&2
    exit 1
  fi
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
