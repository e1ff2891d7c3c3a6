# One command per habit. `make run` and `make test` work on a fresh clone.
.PHONY: setup web run test test-fast lint format migrate bench

setup:
	@scripts/bootstrap.sh

# The browser client (web/, TypeScript + Vite) built into src/medtalk/static/; skipped if unchanged.
web:
	@scripts/build-web.sh

run: setup web
	.venv/bin/medtalk serve --demo

test: setup web
	@scripts/test-deps.sh
	.venv/bin/python -m pytest

test-fast: setup
	.venv/bin/python -m pytest tests/unit

lint: setup
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests
	.venv/bin/mypy src

format: setup
	.venv/bin/ruff format src tests
	.venv/bin/ruff check --fix src tests

migrate: setup
	.venv/bin/medtalk migrate

bench: setup
	@(cd bench/node-baseline && [ -d node_modules/socket.io-client ] || npm ci --silent --no-audit --no-fund)
	.venv/bin/python bench/chatload.py --scenario sqlite --scenario postgresql \
		--scenario cluster --scenario workers --scenario node --client python --client node --seconds 4 \
		--idle 5000,20000 --idle-scenario postgresql --idle-scenario node
