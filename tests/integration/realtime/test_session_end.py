"""A socket lives no longer than its session, on every app process.

Two `ailawyer serve` processes share a deployment: the socket is on app B, the
logout goes through app A. Deactivating an account (`ailawyer users deactivate`)
ends its sockets the same way, a join asks about its own session, and the
periodic check catches a session revoked behind the app's back (directly in the
database, where no message announces it).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sqlalchemy import update

from ailawyer import messages
from ailawyer.db.base import utcnow
from ailawyer.db.engine import Database
from ailawyer.db.models import Akte, Role, UserSession
from tests.fixtures.live_app import PASSWORD, LoggedIn, login, make_akte, make_user
from tests.fixtures.processes import ChildProcess, Processes, run_cli
from tests.fixtures.sockets import Recorder

pytestmark = pytest.mark.slow

RECHECK_S = 1.0


@pytest.fixture
def apps(processes: Processes) -> tuple[ChildProcess, ChildProcess]:
    """Two app processes of one deployment (one AUTH_SECRET: a session of one is
    valid at the other)."""
    recheck = str(RECHECK_S)
    return (
        processes.serve(SESSION_RECHECK_INTERVAL=recheck),
        processes.serve(SESSION_RECHECK_INTERVAL=recheck),
    )


async def disconnected_within(client: Recorder, seconds: float) -> float:
    started = time.monotonic()
    async with asyncio.timeout(seconds):
        while client.client.connected:
            await asyncio.sleep(0.02)
    return time.monotonic() - started


async def connected(app: ChildProcess, session: LoggedIn) -> Recorder:
    client = Recorder()
    await client.connect(app.url, session.cookie_header)
    return client


async def test_logout_on_one_app_ends_the_socket_on_another(
    apps: tuple[ChildProcess, ChildProcess], db: Database
) -> None:
    app_a, app_b = apps
    user = await make_user(db, Role.ANWALT)
    on_a = await login(app_a.url, user)
    # The same session, its socket on B; a second session of the same user stays.
    socket_b = Recorder()
    other_session = await login(app_b.url, user)
    other_socket = await connected(app_b, other_session)
    try:
        await socket_b.connect(app_b.url, on_a.cookie_header)
        logout = await on_a.http.post("/api/auth/logout")
        assert logout.status_code == 200
        took = await disconnected_within(socket_b, 1.0)
        assert took < 1.0
        assert other_socket.client.connected  # only the ended session's sockets close
    finally:
        for client in (socket_b, other_socket):
            await client.close()
        for session in (on_a, other_session):
            await session.http.aclose()


async def test_deactivating_an_account_ends_its_sockets(
    apps: tuple[ChildProcess, ChildProcess], db: Database, processes: Processes
) -> None:
    user = await make_user(db, Role.SEKRETARIAT)
    session = await login(apps[0].url, user)
    sockets = [await connected(app, session) for app in apps]
    try:
        result = await asyncio.to_thread(
            run_cli, "users", "deactivate", "--email", user.email, env=processes.env()
        )
        assert result.returncode == 0, result.stderr
        assert "1 session(s) revoked" in result.stdout
        for socket in sockets:
            await disconnected_within(socket, 1.0)
        refused = await session.http.get("/api/auth/me")
        assert refused.status_code == 401
    finally:
        for socket in sockets:
            await socket.close()
        await session.http.aclose()


async def test_a_new_role_or_password_ends_the_accounts_sockets(
    apps: tuple[ChildProcess, ChildProcess], db: Database, processes: Processes
) -> None:
    user = await make_user(db, Role.ANWALT)
    session = await login(apps[0].url, user)
    sockets = [await connected(app, session) for app in apps]
    assert (await session.http.get("/api/admin/queues")).status_code == 403
    try:
        result = await asyncio.to_thread(
            run_cli,
            "users",
            "set-role",
            "--email",
            user.email,
            "--role",
            "admin",
            env=processes.env(),
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{user.email} is now ADMIN; 1 session(s) revoked"
        for socket in sockets:
            await disconnected_within(socket, 1.0)
        assert (await session.http.get("/api/auth/me")).status_code == 401
        await session.http.aclose()

        # Logged in again, the new role holds.
        session = await login(apps[1].url, user)
        me = (await session.http.get("/api/auth/me")).json()
        assert me["user"]["role"] == "ADMIN", me
        assert (await session.http.get("/api/admin/queues")).status_code == 200

        result = await asyncio.to_thread(
            run_cli,
            "users",
            "set-password",
            "--email",
            user.email,
            "--password-stdin",
            env=processes.env(),
            stdin="ein neues Passwort\n",
        )
        assert result.returncode == 0, result.stderr
        assert "1 session(s) revoked" in result.stdout
        assert "ein neues Passwort" not in result.stdout + result.stderr
        assert (await session.http.get("/api/auth/me")).status_code == 401
        async with httpx.AsyncClient(base_url=apps[0].url) as anonymous:
            old = {"email": user.email, "password": PASSWORD}
            assert (await anonymous.post("/api/auth/login", json=old)).status_code == 401
            new = {"email": user.email, "password": "ein neues Passwort"}
            assert (await anonymous.post("/api/auth/login", json=new)).status_code == 200
    finally:
        for socket in sockets:
            await socket.close()
        await session.http.aclose()


async def revoke_in_database(db: Database) -> None:
    """Every session, behind the app's back: no message on the sessions channel."""
    async with db.session() as session:
        await session.execute(update(UserSession).values(revoked_at=utcnow()))


async def test_a_join_asks_about_its_own_session(
    apps: tuple[ChildProcess, ChildProcess], db: Database
) -> None:
    app = apps[0]
    user = await make_user(db, Role.ANWALT)
    akte: Akte = await make_akte(db, user)
    session = await login(app.url, user)
    socket = await connected(app, session)
    try:
        joined = await socket.call("akte:join", {"akteId": akte.id})
        assert joined == {"ok": True, "room": f"akte:{akte.id}"}
        await revoke_in_database(db)
        refused = await socket.call("akte:join", {"akteId": akte.id})
        assert refused == {"ok": False, "error": messages.NOT_AUTHENTICATED}
        await disconnected_within(socket, 1.0)
    finally:
        await socket.close()
        await session.http.aclose()


async def test_the_periodic_check_ends_a_socket_whose_session_was_revoked_elsewhere(
    apps: tuple[ChildProcess, ChildProcess], db: Database
) -> None:
    app = apps[1]
    user = await make_user(db, Role.ANWALT)
    session = await login(app.url, user)
    socket = await connected(app, session)
    try:
        await revoke_in_database(db)
        await disconnected_within(socket, RECHECK_S * 3 + 1)
    finally:
        await socket.close()
        await session.http.aclose()
