#!/usr/bin/env bash
# Installs what the test suite needs beyond Python: the JavaScript client for the spec's JS test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d tests/js/node_modules/socket.io-client ] || [ tests/js/package-lock.json -nt tests/js/node_modules ]; then
  (cd tests/js && npm ci --no-audit --no-fund --silent)
fi
# scale-out (issue 3): nginx in front of two nodes; private redis/rabbitmq/postgres for fault tests.
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || missing+=(rabbitmq-server)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y \
      --no-install-recommends "$@"
  }
  apt_install "${missing[@]}" || { apt-get -o DPkg::Lock::Timeout=300 update -q && apt_install "${missing[@]}"; }
fi
