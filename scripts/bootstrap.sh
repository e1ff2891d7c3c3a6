#!/usr/bin/env bash
# Creates .venv and installs medtalk with its pinned dependencies (requirements.lock).
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(command -v python3.11 || command -v python3)
stamp=.venv/.installed
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ requirements.lock -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check uv
  .venv/bin/uv pip install -q --python .venv/bin/python -r requirements.lock -e .
  touch "$stamp"
fi
