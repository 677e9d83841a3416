"""Socket.IO on the app: session auth at connect, user/role rooms, Akte rooms."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest
import socketio

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.realtime.rooms import akte_room
from tests.fixtures.live_app import LiveApp, login, make_akte, make_user
from tests.fixtures.sockets import SENTINEL_EVENT, Recorder

MakeRecorder = Callable[[], Awaitable[Recorder]]


async def test_connection_without_session_is_refused(app: LiveApp, recorder: MakeRecorder) -> None:
    client = await recorder()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(app.url)
    assert client.connect_errors == [{"message": "unauthorized"}]


async def test_forged_and_revoked_sessions_are_refused(
    app: LiveApp, db: Database, recorder: MakeRecorder
) -> None:
    forged = await recorder()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await forged.connect(app.url, "session=abc.def")

    user = await make_user(db)
    session = await login(app.url, user)
    try:
        cookie = session.cookie_header
        assert (await session.http.post("/api/auth/logout")).status_code == 200
    finally:
        await session.http.aclose()
    revoked = await recorder()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await revoked.connect(app.url, cookie)
    assert revoked.connect_errors == [{"message": "unauthorized"}]


async def _polling_connect(base_url: str, cookie: str | None) -> str:
    """The Engine.IO long-polling handshake and a Socket.IO CONNECT, by hand.

    (The Python client needs a ping interval to hang up a refused polling
    connection; the protocol itself answers at once.)
    """
    headers = {"Cookie": cookie} if cookie else {}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=5) as http:
        query = {"EIO": "4", "transport": "polling"}
        opened = await http.get("/socket.io/", params=query)
        assert opened.status_code == 200 and opened.text.startswith("0"), opened.text
        query["sid"] = json.loads(opened.text[1:])["sid"]
        sent = await http.post("/socket.io/", params=query, content="40")
        assert sent.status_code == 200
        answer = await http.get("/socket.io/", params=query)
        return answer.text


async def test_polling_transport_checks_the_session_too(app: LiveApp, db: Database) -> None:
    assert await _polling_connect(app.url, None) == '44{"message":"unauthorized"}'
    assert await _polling_connect(app.url, "session=abc.def") == '44{"message":"unauthorized"}'
    session = await login(app.url, await make_user(db))
    await session.http.aclose()
    assert (await _polling_connect(app.url, session.cookie_header)).startswith('40{"sid":')


async def test_connection_joins_its_user_and_role_rooms(
    app: LiveApp, db: Database, emitter: SocketEmitter, recorder: MakeRecorder
) -> None:
    user, other = await make_user(db, Role.ANWALT), await make_user(db, Role.SEKRETARIAT)
    session = await login(app.url, user)
    await session.http.aclose()
    client = await recorder()
    await client.connect(app.url, session.cookie_header)

    await emitter.to_user(other.id, "notification", {"for": "other"})
    await emitter.to_role(Role.SEKRETARIAT, "notification", {"for": "sekretariat"})
    await emitter.to_user(user.id, "notification", {"for": "user"})
    await emitter.to_role(Role.ANWALT, "notification", {"for": "anwalt"})
    await emitter.to_user(user.id, SENTINEL_EVENT, {})

    await client.wait_for(SENTINEL_EVENT)
    assert client.events("notification") == [{"for": "user"}, {"for": "anwalt"}]


async def test_akte_rooms_are_for_members_and_admins_only(
    app: LiveApp, db: Database, emitter: SocketEmitter, recorder: MakeRecorder
) -> None:
    member = await make_user(db, Role.ANWALT)
    outsider = await make_user(db, Role.ANWALT)
    admin = await make_user(db, Role.ADMIN)
    akte = await make_akte(db, member)
    clients: dict[str, Recorder] = {}
    for name, user in (("member", member), ("outsider", outsider), ("admin", admin)):
        session = await login(app.url, user)
        await session.http.aclose()
        clients[name] = await recorder()
        await clients[name].connect(app.url, session.cookie_header)

    joined = await clients["member"].call("akte:join", {"akteId": akte.id})
    assert joined == {"ok": True, "room": akte_room(akte.id)}
    refused = await clients["outsider"].call("akte:join", {"akteId": akte.id})
    assert refused == {"ok": False, "error": "Keine Berechtigung"}
    assert (await clients["admin"].call("akte:join", {"akteId": akte.id}))["ok"] is True
    # An admin joins existing case files, not made-up room names.
    unknown = await clients["admin"].call("akte:join", {"akteId": "gibt-es-nicht"})
    assert unknown == {"ok": False, "error": "Keine Berechtigung"}

    await emitter.to_akte(akte.id, "akte:updated", {"akteId": akte.id})
    for user in (member, outsider, admin):
        await emitter.to_user(user.id, SENTINEL_EVENT, {})
    for client in clients.values():
        await client.wait_for(SENTINEL_EVENT)
    assert clients["member"].events("akte:updated") == [{"akteId": akte.id}]
    assert clients["admin"].events("akte:updated") == [{"akteId": akte.id}]
    assert clients["outsider"].events("akte:updated") == []

    # After leaving, the member hears nothing more from the room.
    assert (await clients["member"].call("akte:leave", {"akteId": akte.id}))["ok"] is True
    await emitter.to_akte(akte.id, "akte:updated", {"second": True})
    await emitter.to_user(member.id, SENTINEL_EVENT, {})
    await clients["member"].wait_for(SENTINEL_EVENT, count=2)
    assert clients["member"].events("akte:updated") == [{"akteId": akte.id}]


async def test_junk_events_and_payloads_do_not_break_the_connection(
    app: LiveApp, db: Database, emitter: SocketEmitter, recorder: MakeRecorder
) -> None:
    member = await make_user(db)
    akte = await make_akte(db, member)
    session = await login(app.url, member)
    await session.http.aclose()
    client = await recorder()
    await client.connect(app.url, session.cookie_header)
    invalid = {"ok": False, "error": "Ungültige Eingabe"}

    assert await client.call("akte:join") == invalid
    for payload in (
        "akte",
        42,
        None,
        [],
        {},
        {"akteId": 5},
        {"akteId": "../x"},
        {"akteId": "x" * 65},
    ):
        assert await client.call("akte:join", payload) == invalid, payload
        assert await client.call("akte:leave", payload) == invalid, payload
    assert await client.call("akte:join", {"akteId": akte.id}, "extra", 1) == {
        "ok": True,
        "room": akte_room(akte.id),
    }
    # Unknown events are acknowledged with nothing and otherwise ignored.
    assert await client.call("no-such-event", {"x": 1}) is None
    await client.client.emit("notification", {"forged": True})
    # Frames that are no Socket.IO packets at all.
    for frame in ('2["akte:join", {', "2[]", "2{}", "2 5", "9", "x", '2[{"a": 1}]'):
        await client.client.eio.send(frame)

    await emitter.to_akte(akte.id, "akte:updated", {"ok": 1})
    await emitter.to_user(member.id, SENTINEL_EVENT, {})
    await client.wait_for(SENTINEL_EVENT)
    assert client.client.connected
    assert client.events("akte:updated") == [{"ok": 1}]
