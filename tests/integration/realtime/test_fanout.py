"""Local delivery of a room emit (`realtime/manager.py`): every socket of the room
gets every event once, in the order emitted; other rooms get nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.realtime.emitter import SocketEmitter
from tests.fixtures.live_app import LiveApp, login, make_user
from tests.fixtures.sockets import SENTINEL_EVENT, Recorder

MakeRecorder = Callable[[], Awaitable[Recorder]]
CLIENTS = 12
EVENTS = 5


async def test_room_emit_reaches_every_socket_once_in_order(
    app: LiveApp, db: Database, emitter: SocketEmitter, recorder: MakeRecorder
) -> None:
    member, outsider = await make_user(db, Role.SACHBEARBEITER), await make_user(db, Role.ANWALT)
    sessions = [await login(app.url, member), await login(app.url, outsider)]
    for session in sessions:
        await session.http.aclose()
    members: list[Recorder] = []
    for _ in range(CLIENTS):
        client = await recorder()
        await client.connect(app.url, sessions[0].cookie_header)
        members.append(client)
    other = await recorder()
    await other.connect(app.url, sessions[1].cookie_header)

    for seq in range(EVENTS):
        await emitter.to_role(Role.SACHBEARBEITER, "notification", {"seq": seq})
    await emitter.to_role(Role.SACHBEARBEITER, SENTINEL_EVENT, {})
    await emitter.to_role(Role.ANWALT, SENTINEL_EVENT, {})

    await asyncio.gather(*(client.wait_for(SENTINEL_EVENT) for client in [*members, other]))
    for client in members:
        assert client.events("notification") == [{"seq": seq} for seq in range(EVENTS)]
    assert other.events("notification") == []
