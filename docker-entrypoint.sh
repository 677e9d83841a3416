#!/bin/sh
# Entrypoint of the ailawyer image, for the app and the worker alike:
#   1. wait for the database (at most DB_WAIT_TIMEOUT seconds, default 60),
#   2. migrate it (`ailawyer db upgrade`),
#   3. seed it (`ailawyer seed`: default settings; the first admin from
#      ADMIN_EMAIL/ADMIN_PASSWORD while no user exists),
#   4. exec the command, so it replaces this shell and receives SIGTERM itself
#      (PID 1 in the container; `docker stop` reaches uvicorn or the worker).
# App and worker may run this at the same time: migrating and seeding take a
# database lock, and both are no-ops the second time.
set -eu

DB_WAIT_TIMEOUT="${DB_WAIT_TIMEOUT:-60}"

say() {
    printf 'docker-entrypoint: %s\n' "$*"
}

case "$DB_WAIT_TIMEOUT" in
    '' | *[!0-9]*)
        say "DB_WAIT_TIMEOUT must be a whole number of seconds, not '$DB_WAIT_TIMEOUT'" >&2
        exit 2
        ;;
esac

if [ "$#" -eq 0 ]; then
    say "no command given (e.g. ailawyer serve, ailawyer worker)" >&2
    exit 2
fi

say "waiting up to ${DB_WAIT_TIMEOUT}s for the database"
if ! ailawyer db wait --timeout "$DB_WAIT_TIMEOUT"; then
    say "giving up: the database did not answer within ${DB_WAIT_TIMEOUT}s;" \
        "check DATABASE_URL and that the database is running" >&2
    exit 1
fi

say "migrating the database"
ailawyer db upgrade

say "seeding the database"
ailawyer seed

say "starting: $*"
exec "$@"
