"""docker-entrypoint.sh against the machine's PostgreSQL and Redis, as the image runs it.

It waits for the database within DB_WAIT_TIMEOUT, migrates, seeds one admin,
then execs the command: the command keeps the script's pid (PID 1 in a
container), so a SIGTERM for the container reaches `ailawyer serve` itself.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from ailawyer.db.engine import Database
from tests.deploy.support import REPO, process_env, rows, stop_process
from tests.fixtures.services import RedisServer, free_port
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.slow

ENTRYPOINT = REPO / "docker-entrypoint.sh"
ADMIN = {"ADMIN_EMAIL": "admin@kanzlei.de", "ADMIN_PASSWORD": "start-passwort-1"}


def entrypoint(
    *command: str, database_url: str, timeout: float = 180, **env: str | None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENTRYPOINT), *command],
        env=process_env(DATABASE_URL=database_url, **ADMIN, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def snapshot(url: str) -> dict[str, Any]:
    state: dict[str, Any] = dict(await rows(url))
    database = Database(url, null_pool=True)
    try:
        async with database.engine.connect() as conn:
            state["revision"] = (
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one()
            state["tables"] = sorted(
                (
                    await conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                    )
                ).scalars()
            )
    finally:
        await database.dispose()
    return state


def test_migrates_seeds_one_admin_and_runs_the_command(empty_pg_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    def command(code: int) -> list[str]:
        script = f"open({str(marker)!r}, 'a').write('ran\\n'); raise SystemExit({code})"
        return [sys.executable, "-c", script]

    first = entrypoint(*command(0), database_url=empty_pg_url)
    assert first.returncode == 0, first.stdout + first.stderr
    assert marker.read_text() == "ran\n"
    assert ADMIN["ADMIN_PASSWORD"] not in first.stdout + first.stderr
    state = asyncio.run(snapshot(empty_pg_url))
    assert [(u[1], u[3]) for u in state["users"]] == [("admin@kanzlei.de", "ADMIN")]
    assert "users" in state["tables"] and "notifications" in state["tables"]

    # The second start changes nothing, and the command's exit code is the script's.
    second = entrypoint(*command(7), database_url=empty_pg_url)
    assert second.returncode == 7, second.stdout + second.stderr
    assert marker.read_text() == "ran\nran\n"
    assert asyncio.run(snapshot(empty_pg_url)) == state


def http_live(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health/live").status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.parametrize("process_name", ["serve", "worker"])
def test_sigterm_to_the_scripts_pid_stops_the_process_with_exit_0(
    empty_pg_url: str, tmp_path: Path, redis_server: RedisServer, process_name: str
) -> None:
    """What `docker stop` does to the app and worker containers."""
    port = free_port()
    command = {
        "serve": ["ailawyer", "serve", "--host", "127.0.0.1", "--port", str(port)],
        "worker": ["ailawyer", "worker"],
    }[process_name]
    log_path = tmp_path / "entrypoint.log"

    def ready() -> bool:
        if process_name == "serve":
            return http_live(port)
        return "Worker started" in log_path.read_text()

    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(ENTRYPOINT), *command],
            env=process_env(DATABASE_URL=empty_pg_url, REDIS_URL=redis_server.url, **ADMIN),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        assert wait_until(lambda: ready() or process.poll() is not None, 90, 0.2)
        assert ready(), log_path.read_text()
        # exec: the script's pid is now the process itself, not a shell waiting for it.
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert process_name.encode() in cmdline, cmdline
        assert Path(cmdline[0].decode()).name not in ("sh", "dash", "bash"), cmdline

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log_path.read_text()
        assert time.monotonic() - started < 30
        assert not http_live(port)
    finally:
        stop_process(process)
    users = asyncio.run(rows(empty_pg_url))["users"]
    assert [u[1] for u in users] == ["admin@kanzlei.de"]


def test_gives_up_on_an_unreachable_database_within_its_bound(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/ailawyer"
    started = time.monotonic()
    result = entrypoint(
        sys.executable,
        "-c",
        f"open({str(marker)!r}, 'w')",
        database_url=url,
        DB_WAIT_TIMEOUT="2",
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert "giving up" in result.stderr and "2s" in result.stderr, result.stderr
    assert not marker.exists(), "the command never starts without a database"
    assert elapsed < 20, elapsed


@pytest.mark.parametrize("value", ["soon", "-1", "1.5"])
def test_rejects_a_db_wait_timeout_that_is_no_number_of_seconds(value: str) -> None:
    result = entrypoint("true", database_url="sqlite:///unused.db", DB_WAIT_TIMEOUT=value)
    assert result.returncode == 2
    assert "DB_WAIT_TIMEOUT" in result.stderr
