#!/usr/bin/env bash
# Call set-up in the web client, in real Chromium: time from the patient pressing Accept to the
# first decoded remote frame on each page, over N runs of the browser test (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
scripts/build-web.sh
for _ in $(seq "$runs"); do
  .venv/bin/python -m pytest tests/browser/test_web_client.py -q -s -p no:cacheprovider \
    -k "chat or video" 2>&1 | grep "call set-up" || echo "run failed"
done
