"""What the Socket.IO server asks the database: whose session, is it still
valid, which Akte.

The server itself knows no database; these factories bind the session checks
(`services.auth.authenticate` and `valid_sessions`, the same the HTTP API uses)
and the Akte rule (`services.akten.can_access_akte`) to the app's `Database`. Each call
opens its own short unit of work: a connection can live for hours, a
database session must not.
"""

from __future__ import annotations

from collections.abc import Mapping

from ailawyer.config import Settings
from ailawyer.db.engine import Database
from ailawyer.realtime.server import (
    Authenticate,
    CanJoinAkte,
    CheckSessions,
    Principal,
    SocketServer,
)
from ailawyer.services.akten import can_access_akte
from ailawyer.services.auth import SESSION_COOKIE, authenticate, valid_sessions


def session_authenticator(database: Database, secret: str) -> Authenticate:
    async def check(cookies: Mapping[str, str]) -> Principal | None:
        cookie = cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        async with database.session() as session:
            found = await authenticate(session, secret=secret, cookie=cookie)
            if found is None:
                return None
            return Principal(
                user_id=found.user.id, role=found.user.role, session_id=found.session.id
            )

    return check


def session_checker(database: Database) -> CheckSessions:
    async def check(session_ids: set[str]) -> set[str]:
        async with database.reader() as conn:
            return await valid_sessions(conn, session_ids)

    return check


def akte_access(database: Database) -> CanJoinAkte:
    async def check(principal: Principal, akte_id: str) -> bool:
        async with database.session() as session:
            return await can_access_akte(
                session, akte_id=akte_id, user_id=principal.user_id, role=principal.role
            )

    return check


def create_socket_server(settings: Settings, database: Database) -> SocketServer:
    """The app's Socket.IO server, on the channel the worker's emitter publishes to."""
    return SocketServer(
        redis_url=settings.redis,
        authenticate=session_authenticator(database, settings.auth_secret.get_secret_value()),
        can_join_akte=akte_access(database),
        check_sessions=session_checker(database),
        recheck_s=settings.session_recheck_s,
        channel=settings.deployment.socketio_channel,
    )
