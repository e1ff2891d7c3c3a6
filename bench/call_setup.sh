#!/usr/bin/env bash
# Video-call setup time and frames received, from the real aiortc peers of
# tests/integration/test_calls_webrtc.py (direct on SQLite and PostgreSQL, and relay via coturn).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest tests/integration/test_calls_webrtc.py -q -s -p no:cacheprovider \
  | grep '^\[calls\]'
