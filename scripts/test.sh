#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, start services, lint, test.
# The suite runs against Redis (the machine's redis-server), then its worker,
# real-time and reliability tests run again against Valkey (scripts/test-valkey.sh).
# Extra arguments go to pytest (e.g. scripts/test.sh -k health); with any, the
# Valkey run is left out unless TEST_VALKEY=1 (TEST_VALKEY=0 leaves it out always).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh --test
bash scripts/ensure-services.sh

echo "== ruff"
uv run --frozen ruff check src tests bench
uv run --frozen ruff format --check src tests bench
echo "== mypy"
uv run --frozen mypy
echo "== pytest (Redis)"
uv run --frozen pytest "$@"
if [ "${TEST_VALKEY:-$([ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
  echo "== pytest (Valkey)"
  bash scripts/test-valkey.sh "$@"
fi
