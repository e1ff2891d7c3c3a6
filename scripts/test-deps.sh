#!/usr/bin/env bash
# Installs what the test suite needs beyond Python: the spec's JavaScript client and the real
# servers and tools the tests start themselves (coturn, clamd, promtool). Idempotent; quick when
# everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# apt_install COMMAND PACKAGE: install Debian's PACKAGE unless COMMAND is already there.
apt_install() {
  local command=$1 package=$2 sudo=""
  if command -v "$command" >/dev/null 2>&1 || [ -x "/usr/sbin/$command" ]; then return 0; fi
  if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
  local apt="$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300"
  $apt install -y --no-install-recommends "$package" >/dev/null \
    || { $apt update -qq && $apt install -y --no-install-recommends "$package" >/dev/null; }
}

if [ ! -d tests/js/node_modules/socket.io-client ] || [ tests/js/package-lock.json -nt tests/js/node_modules ]; then
  (cd tests/js && npm ci --no-audit --no-fund --silent)
fi
# Video calls: a real coturn for the relay-only WebRTC test (tests/integration/test_calls_webrtc.py).
apt_install turnserver coturn
# Files: ClamAV's daemon for the malware-scanning tests (they start their own clamd with a local
# EICAR-only signature database; no freshclam download is needed).
apt_install clamd clamav-daemon
# Operations: promtool (Debian's prometheus package) checks and unit-tests deploy/prometheus rules.
apt_install promtool prometheus
# Recording: ffmpeg makes the test WebM and ffprobe checks the assembled recording
# (tests/integration/test_recording.py, tests/browser/test_browser_recording.py).
apt_install ffmpeg ffmpeg
# Web client: Debian's Chromium for the browser tests (tests/browser/); never a downloaded browser.
apt_install chromium chromium
# Scale-out: nginx in front of two nodes; private redis/rabbitmq for the fault tests.
apt_install nginx nginx-light
apt_install redis-server redis-server
apt_install rabbitmq-server rabbitmq-server
