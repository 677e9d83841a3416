"""The in-process session cache across real `ailawyer serve` processes.

The apps here keep verified sessions for 10 s (SESSION_CACHE_TTL=10, the most
allowed), so a refusal within a few seconds can only come from the invalidation
message, never from the entry running out.
"""

from __future__ import annotations

import asyncio

import pytest

from ailawyer.db.models import User
from tests.fixtures.live_app import login
from tests.fixtures.processes import ChildProcess, Processes, run_cli
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow

LONG_TTL = {"SESSION_CACHE_TTL": "10"}
# Well under LONG_TTL: the other process must refuse the session by then.
REFUSED_WITHIN_S = 3.0


async def _status(app: ChildProcess, cookie: str) -> int:
    async with app.client() as client:
        response = await client.get("/api/auth/me", headers={"Cookie": cookie})
    return response.status_code


async def _refused_soon(app: ChildProcess, cookie: str) -> bool:
    async def refused() -> bool:
        return await _status(app, cookie) == 401

    return bool(await eventually(refused, timeout=REFUSED_WITHIN_S))


async def test_logout_in_one_process_ends_the_session_in_the_other(
    processes: Processes, lawyer: User
) -> None:
    first = processes.serve(**LONG_TTL)
    second = processes.serve(**LONG_TTL)
    session = await login(first.url, lawyer)
    try:
        # The second process has verified (and so cached) the session.
        for _ in range(3):
            assert await _status(second, session.cookie_header) == 200
        assert (await session.http.post("/api/auth/logout")).status_code == 200
        assert await _refused_soon(second, session.cookie_header)
        assert await _status(first, session.cookie_header) == 401
    finally:
        await session.http.aclose()


async def test_deactivation_ends_cached_sessions_in_every_process(
    processes: Processes, lawyer: User
) -> None:
    first = processes.serve(**LONG_TTL)
    second = processes.serve(**LONG_TTL)
    session = await login(first.url, lawyer)
    try:
        for app in (first, second):
            assert await _status(app, session.cookie_header) == 200
        result = await asyncio.to_thread(
            run_cli, "users", "deactivate", "--email", lawyer.email, env=processes.env()
        )
        assert result.returncode == 0, result.stdout + result.stderr
        for app in (first, second):
            assert await _refused_soon(app, session.cookie_header)
    finally:
        await session.http.aclose()


def _session_lookups(app: ChildProcess) -> int:
    """SELECTs on user_sessions in the app's log (LOG_SQL=1 shows every statement)."""
    return sum(
        1 for line in app.output().splitlines() if "FROM user_sessions" in line and "SELECT" in line
    )


@pytest.mark.parametrize(("ttl", "cached"), [("10", True), ("0", False)])
async def test_a_burst_on_one_session_asks_the_database_once(
    processes: Processes, lawyer: User, ttl: str, cached: bool
) -> None:
    app = processes.serve(SESSION_CACHE_TTL=ttl, LOG_SQL="1")
    session = await login(app.url, lawyer)
    try:
        before = _session_lookups(app)
        for _ in range(20):
            assert (await session.http.get("/api/auth/me")).status_code == 200
        # Lines are written from a thread in batches: wait for the burst's.
        expected = 1 if cached else 20
        await eventually(lambda: _session_lookups(app) - before >= expected, timeout=5)
        await asyncio.sleep(0.2)
        assert _session_lookups(app) - before == expected
    finally:
        await session.http.aclose()
