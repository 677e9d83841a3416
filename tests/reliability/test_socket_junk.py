"""Junk over Socket.IO: refused or ignored, and the connection keeps receiving.

- junk payloads for the one event the server handles (`akte:join`) are refused
  with an ack, unknown events and malformed Socket.IO packets are dropped, and
  nothing of it produces an error line (nobody can flood the log this way);
- Engine.IO frames that break the transport itself end only their own
  connection; the server and every other connection go on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.realtime.emitter import SocketEmitter
from tests.fixtures.live_app import make_user
from tests.fixtures.processes import ChildProcess, Processes, json_lines
from tests.fixtures.services import REDIS_URL
from tests.fixtures.sockets import Recorder
from tests.reliability.support import SecretWatch, log_in

pytestmark = pytest.mark.slow


async def raw_socket(url: str, cookie: str) -> tuple[aiohttp.ClientSession, Any]:
    """An Engine.IO v4 WebSocket, connected to the default namespace by hand."""
    http = aiohttp.ClientSession()
    ws = await http.ws_connect(
        url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
        headers={"Cookie": cookie},
    )
    opened = await ws.receive_str(timeout=5)
    assert opened.startswith("0{"), opened
    await ws.send_str("40")
    connected = await ws.receive_str(timeout=5)
    assert connected.startswith("40{"), connected
    return http, ws


async def next_event(ws: Any, name: str, data: Any, timeout: float = 10) -> None:
    """Read frames (answering pings) until event `name` with `data` arrives."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"socket ended: {message.type} {message.data}")
            frame: str = message.data
            if frame == "2":
                await ws.send_str("3")
            elif frame.startswith("42"):
                event = json.loads(frame[2:])
                if event[0] == name and event[1] == data:
                    return


@dataclass
class SocketRig:
    """A running app, a logged-in user, a real client and a raw WebSocket of theirs."""

    app: ChildProcess
    user_id: str
    cookie: str
    recorder: Recorder
    emitter: SocketEmitter
    ws: Any


@pytest.fixture
async def rig(processes: Processes, db: Database, watch: SecretWatch) -> AsyncIterator[SocketRig]:
    app = processes.serve()
    lawyer = await make_user(db, Role.ANWALT)
    async with app.client() as client:
        as_lawyer = await log_in(client, lawyer.email, watch)
    cookie = f"session={as_lawyer.session}"
    recorder = Recorder()
    emitter = SocketEmitter(REDIS_URL)
    http, ws = await raw_socket(app.url, cookie)
    try:
        await recorder.connect(app.url, cookie)
        yield SocketRig(app, lawyer.id, cookie, recorder, emitter, ws)
    finally:
        await emitter.close()
        await recorder.close()
        await ws.close()
        await http.close()


async def still_working(rig: SocketRig, probe: int) -> None:
    """The rig's connections receive a push; a new connection does too; HTTP answers."""
    await rig.emitter.to_user(rig.user_id, "notification", {"probe": probe})
    await next_event(rig.ws, "notification", {"probe": probe})
    async with asyncio.timeout(10):
        while {"probe": probe} not in rig.recorder.events("notification"):
            await asyncio.sleep(0.02)
    assert rig.recorder.client.connected
    fresh = Recorder()
    try:
        await fresh.connect(rig.app.url, rig.cookie)
        await rig.emitter.to_user(rig.user_id, "notification", {"probe": -probe})
        assert (await fresh.wait_for("notification"))[-1] == {"probe": -probe}
    finally:
        await fresh.close()
    async with rig.app.client() as client:
        assert (await client.get("/api/health/live")).status_code == 200


def error_lines(watch: SecretWatch) -> list[dict[str, Any]]:
    return [
        line
        for path in watch.directory.glob("*.log")
        for line in json_lines(path)
        if line.get("level") in ("error", "fatal")
    ]


async def test_junk_socket_events_and_payloads_leave_the_connection_working(
    rig: SocketRig, watch: SecretWatch
) -> None:
    # Through a real client: events nobody listens to, and junk payloads for
    # the one event the server does handle. Each join is refused with an ack.
    payloads: tuple[Any, ...] = (
        None,
        5,
        "akte",
        [],
        {"akteId": None},
        {"akteId": 5},
        {"akteId": "../../etc"},
        {"akteId": "\u00e4\u20ac"},
        {"akteId": "x" * 5000},
        {"akteId": "gibt-es-nicht"},
    )
    for junk in payloads:
        reply = await rig.recorder.call("akte:join", junk)
        assert isinstance(reply, dict) and reply["ok"] is False, (junk, reply)
    reply = await rig.recorder.call("akte:join", {"akteId": "a"}, "b", 3)
    assert reply["ok"] is False
    for name in ("gibt-es-nicht", "notification", "akte:leave", "x" * 500):
        await rig.recorder.client.emit(name, {"junk": True})
    await rig.recorder.client.emit("binaer", b"\x00\xff" * 100)

    # Raw Socket.IO packets (inside Engine.IO messages) no client library would send.
    for frame in (
        "42[",
        "42{}",
        '42["akte:join"',
        '42[5, "x"]',
        "42" + "[" * 400,
        '42"text"',
        "4",
        "42",
        '43["ack-without-id"]',
        '451-["akte:join",{"_placeholder":true,"num":0}]',
        "40/gibt-es-nicht,",
        '42["akte:join",{"akteId":"\\u0000"}]',
    ):
        await rig.ws.send_str(frame)
    await rig.ws.send_bytes(b"\x04\xff\x00junk")

    await still_working(rig, 1)
    rig.app.stop()
    # Nobody can fill the log with errors by sending junk: at most warnings.
    assert error_lines(watch) == []
    watch.check()


async def test_broken_engineio_frames_end_only_their_own_connection(
    rig: SocketRig, watch: SecretWatch
) -> None:
    """What breaks Engine.IO itself (an empty frame, an unknown packet type, a frame
    over the message limit) may end that one connection, as the protocol says; the
    server and every other connection go on. (Engine.IO logs some of these as
    errors with a traceback: a finding in docs/reliability.md.)"""
    for frame in ("", "\x00\x01", "9", "2probe", '42["x","' + "x" * 20_000 + '"]'):
        http, victim = await raw_socket(rig.app.url, rig.cookie)
        try:
            await victim.send_str(frame)
            await still_working(rig, len(frame) + 1)
        finally:
            await victim.close()
            await http.close()
    rig.app.stop()
    watch.check()
    # What the libraries say about it comes through our pipeline: JSON, no
    # plain-text lines of their own handlers beside it.
    output = rig.app.output().splitlines()
    assert output and [line for line in output if not line.startswith("{")] == []
