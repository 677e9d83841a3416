"""No secret in the log at debug and trace either.

The other reliability tests run their processes at `info`. An admin can lower
the level of every running process (`PUT /api/settings/log.level`), and at
debug the database drivers would log each statement with its parameters: the
e-mail a login looks up, the hash of the session it checks. So app and worker
start at `debug` or `trace` here, are set to `trace` through the settings API
halfway, and see logins (good and bad), authenticated reads, a CSRF-protected write, a
job and a logout — on PostgreSQL (asyncpg) and on SQLite (aiosqlite).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from ailawyer.db import migrate
from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.services.auth import session_id
from tests.fixtures.live_app import make_user
from tests.fixtures.processes import Processes, json_lines
from tests.reliability.support import SecretWatch, Session, log_files, log_in

pytestmark = pytest.mark.slow

WRONG_PASSWORD = "falsches-pferd-batterie-9"


def watch_session(watch: SecretWatch, session: Session) -> None:
    """The cookie is `token.signature`; the token and its stored hash are secrets too."""
    assert session.session is not None
    token = session.session.partition(".")[0]
    watch.add("session token", token)
    watch.add("session hash", session_id(token))


async def wait_for_notifications(client: httpx.AsyncClient, session: Session, count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = await client.get("/api/notifications", headers=session.headers("GET"))
        assert response.status_code == 200, response.text
        if len(response.json()["items"]) >= count:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"fewer than {count} notifications arrived")


# Started at debug and lowered to trace at run time, or started at trace (what
# uvicorn decides once at start, such as its ASGI message log, differs); and
# with LOG_SQL=1, which shows statements but must not show their parameters.
@pytest.mark.parametrize(
    ("backend", "level", "log_sql"),
    [("postgresql", "debug", False), ("sqlite", "trace", False), ("sqlite", "debug", True)],
    ids=["postgresql-debug", "sqlite-trace", "sqlite-debug-LOG_SQL"],
)
@pytest.mark.timeout(240)
async def test_debug_and_trace_logs_carry_no_secret(
    backend: str,
    level: str,
    log_sql: bool,
    processes: Processes,
    db: Database,
    watch: SecretWatch,
    tmp_path: Path,
) -> None:
    env = {"LOG_LEVEL": level, "LOG_SQL": "1" if log_sql else "0"}
    database = db
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'debug.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        env["DATABASE_URL"] = url
        database = Database(url)
    try:
        admin = await make_user(database, Role.ADMIN)
    finally:
        if database is not db:
            await database.dispose()
    watch.add("e-mail", admin.email)
    watch.add("wrong password", WRONG_PASSWORD)

    worker = processes.launch_worker(**env)
    try:
        app = processes.serve(**env)
        worker.wait_ready()
        async with app.client() as client:
            refused = await client.post(
                "/api/auth/login", json={"email": admin.email, "password": WRONG_PASSWORD}
            )
            assert refused.status_code == 401
            first = await log_in(client, admin.email, watch)
            watch_session(watch, first)
            me = await client.get("/api/auth/me", headers=first.headers("GET"))
            assert me.status_code == 200
            job = await client.post("/api/admin/test-job", headers=first.headers("POST"))
            assert job.status_code == 201, job.text
            await wait_for_notifications(client, first, 1)

            lowered = await client.put(
                "/api/settings/log.level", json={"value": "trace"}, headers=first.headers("PUT")
            )
            assert lowered.status_code == 200, lowered.text
            await asyncio.sleep(1)  # app and worker apply it from the settings channel
            second = await log_in(client, admin.email, watch)
            watch_session(watch, second)
            me = await client.get("/api/auth/me", headers=second.headers("GET"))
            assert me.status_code == 200
            job = await client.post("/api/admin/test-job", headers=second.headers("POST"))
            assert job.status_code == 201, job.text
            await wait_for_notifications(client, second, 2)
            out = await client.post("/api/auth/logout", headers=second.headers("POST"))
            assert out.status_code == 200
        app.stop()
    finally:
        worker.stop()

    lines = [line for path in log_files(watch.directory) for line in json_lines(path)]
    levels = {line.get("level") for line in lines}
    # The processes did run below info: otherwise this test would prove nothing.
    assert {"debug", "trace"} <= levels, levels
    statements = [
        line for line in lines if str(line.get("module", "")).startswith("sqlalchemy.engine")
    ]
    if log_sql:
        assert any("FROM user_sessions" in line["message"] for line in statements)
        assert any("parameters hidden" in line["message"] for line in statements)
    else:
        assert not statements, statements[:3]
    assert watch.check() > 0
