#!/usr/bin/env bash
# Installs what the test suite needs beyond Python: the JavaScript client for the spec's JS test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d tests/js/node_modules/socket.io-client ] || [ tests/js/package-lock.json -nt tests/js/node_modules ]; then
  (cd tests/js && npm ci --no-audit --no-fund --silent)
fi
# Video calls: a real coturn for the relay-only WebRTC test (tests/integration/test_calls_webrtc.py).
if ! command -v turnserver >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
  $sudo apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends coturn >/dev/null \
    || { $sudo apt-get update -qq && $sudo apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends coturn >/dev/null; }
fi
# Web client: Debian's Chromium for the browser tests (tests/browser/); never a downloaded browser.
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
  $sudo apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends chromium >/dev/null \
    || { $sudo apt-get update -qq && $sudo apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends chromium >/dev/null; }
fi
