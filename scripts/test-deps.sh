#!/usr/bin/env bash
# Installs what the test suite needs beyond Python: the JavaScript client for the spec's JS test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d tests/js/node_modules/socket.io-client ] || [ tests/js/package-lock.json -nt tests/js/node_modules ]; then
  (cd tests/js && npm ci --no-audit --no-fund --silent)
fi
# files (issue 4): ClamAV's daemon for the malware-scanning tests (they start their own clamd
# with a local EICAR-only signature database; no freshclam download is needed).
if ! command -v clamd >/dev/null 2>&1 && [ ! -x /usr/sbin/clamd ]; then
  apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends clamav-daemon \
    || { apt-get -o DPkg::Lock::Timeout=300 update \
         && apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends clamav-daemon; }
fi
