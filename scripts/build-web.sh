#!/usr/bin/env bash
# Builds the browser client (web/) into src/medtalk/static/; skips when no source changed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/medtalk/static/index.html
if [ -f "$out" ] && [ -z "$(find web -path web/node_modules -prune -o -type f -newer "$out" -print -quit)" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "build-web: npm not found; install Node 20 to build the web client (web/)" >&2
  exit 1
fi
cd web
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --silent
fi
npm run --silent build
touch "../$out"
