#!/usr/bin/env bash
# Installs what the test suite needs beyond Python: the JavaScript client for the spec's JS test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d tests/js/node_modules/socket.io-client ] || [ tests/js/package-lock.json -nt tests/js/node_modules ]; then
  (cd tests/js && npm ci --no-audit --no-fund --silent)
fi
