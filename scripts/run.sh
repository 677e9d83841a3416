#!/usr/bin/env bash
# The product on this machine: install from the lock file, then app + worker
# together (`ailawyer dev`: SQLite under DATA_DIR unless DATABASE_URL is set,
# Redis at REDIS_URL or a private redis-server). Arguments go to `ailawyer dev`,
# e.g. scripts/run.sh --port 8080.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
exec uv run --frozen ailawyer dev "$@"
