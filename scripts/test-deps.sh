#!/usr/bin/env bash
# Installs what the test suite needs beyond Python: the JavaScript client for the spec's JS test,
# and promtool for the alert rules.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d tests/js/node_modules/socket.io-client ] || [ tests/js/package-lock.json -nt tests/js/node_modules ]; then
  (cd tests/js && npm ci --no-audit --no-fund --silent)
fi
# promtool (Debian's prometheus package) checks and unit-tests deploy/prometheus rules.
if ! command -v promtool >/dev/null 2>&1; then
  install_prometheus() {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y \
      --no-install-recommends prometheus
  }
  install_prometheus || { apt-get -o DPkg::Lock::Timeout=300 update && install_prometheus; }
fi
