#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, start services, lint, test.
# Extra arguments go to pytest (e.g. scripts/test.sh -k health).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh --test
bash scripts/ensure-services.sh

echo "== ruff"
uv run --frozen ruff check src tests bench
uv run --frozen ruff format --check src tests bench
echo "== mypy"
uv run --frozen mypy
echo "== pytest"
uv run --frozen pytest "$@"
