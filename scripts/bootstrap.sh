#!/usr/bin/env bash
# Install what the project needs from its own files: uv, the locked Python
# environment, and (with --test) the system packages the tests drive.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  echo "installing uv"
  python3 -m pip install --quiet --disable-pip-version-check uv
fi

if [ "${1:-}" = "--test" ]; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  # tests/deploy parses docker-compose.yml with a real Compose (no engine needed).
  if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
    missing+=(docker-compose)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  uv sync --frozen --all-groups --quiet
  # The Node BullMQ example the interop tests run (docs/interop.md), when node exists.
  if command -v npm >/dev/null 2>&1; then
    npm ci --prefix examples/node --no-audit --no-fund --loglevel=error
  fi
else
  uv sync --frozen --no-dev --quiet
fi
