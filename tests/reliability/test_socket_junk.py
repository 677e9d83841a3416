"""Junk over Socket.IO: refused or ignored, and the connection keeps receiving.

- junk payloads for the one event the server handles (`akte:join`) are refused
  with an ack, unknown events and malformed Socket.IO packets are dropped, and
  nothing of it produces an error line (nobody can flood the log this way);
- Engine.IO frames that are no packet (empty, an unknown type) are dropped with
  one warning per connection and end nothing; a frame over the message limit
  ends only its own connection; an Engine.IO session that never logs in is
  closed after `ANONYMOUS_TIMEOUT_S`.
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
from ailawyer.deployment import Deployment
from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.realtime.guard import ANONYMOUS_TIMEOUT_S
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
async def rig(
    processes: Processes, db: Database, watch: SecretWatch, prefix: str
) -> AsyncIterator[SocketRig]:
    app = processes.serve()
    lawyer = await make_user(db, Role.ANWALT)
    async with app.client() as client:
        as_lawyer = await log_in(client, lawyer.email, watch)
    cookie = f"session={as_lawyer.session}"
    recorder = Recorder()
    emitter = SocketEmitter(REDIS_URL, channel=Deployment(prefix=prefix).socketio_channel)
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


def warnings_of(watch: SecretWatch, message: str) -> list[dict[str, Any]]:
    return [
        line
        for path in watch.directory.glob("*.log")
        for line in json_lines(path)
        if line.get("message") == message
    ]


async def anonymous_socket(url: str) -> tuple[aiohttp.ClientSession, Any]:
    """An Engine.IO v4 WebSocket without a cookie, not connected to Socket.IO."""
    http = aiohttp.ClientSession()
    ws = await http.ws_connect(
        url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    )
    opened = await ws.receive_str(timeout=5)
    assert opened.startswith("0{"), opened
    return http, ws


async def test_junk_engineio_frames_are_one_warning_and_no_disconnect(
    processes: Processes, watch: SecretWatch
) -> None:
    """From an unauthenticated WebSocket: 50 frames of an unknown Engine.IO type and
    10 empty frames give one warning line, no error, and the connection stays up
    (it still answers the Socket.IO connect that follows: refused, no session)."""
    app = processes.serve()
    http, ws = await anonymous_socket(app.url)
    try:
        for _ in range(50):
            await ws.send_str("9")
        for _ in range(10):
            await ws.send_str("")
        await ws.send_str("\x00\x01")
        await ws.send_str("40")
        async with asyncio.timeout(5):
            while True:
                frame = await ws.receive_str()
                if frame.startswith("44"):  # CONNECT_ERROR: the frames after the junk were read
                    break
        assert not ws.closed
    finally:
        await ws.close()
        await http.close()
    app.stop()
    assert len(warnings_of(watch, "realtime.bad_packet")) == 1
    assert error_lines(watch) == []


async def test_junk_in_a_polling_payload_is_dropped_without_an_error(
    processes: Processes, watch: SecretWatch
) -> None:
    app = processes.serve()
    async with app.client() as client:
        opened = await client.get("/socket.io/?EIO=4&transport=polling")
        sid = json.loads(opened.text[1:])["sid"]
        url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
        for body in ("9", "9\x1e9\x1e9", "\x1e\x1e", "4\x1e\x1e9", "b!!!notbase64"):
            answer = await client.post(url, content=body)
            assert answer.status_code == 200, (body, answer.text)
        # The session is still alive: a poll answers (a ping, or nothing pending).
        poll = await client.post(url, content="40")
        assert poll.status_code == 200
    app.stop()
    assert len(warnings_of(watch, "realtime.bad_packet")) == 1
    assert error_lines(watch) == []


async def test_an_oversized_frame_ends_only_its_own_connection(
    rig: SocketRig, watch: SecretWatch
) -> None:
    """A frame over the 16 KiB message limit ends that connection, as Engine.IO's
    protocol says; the server and every other connection go on."""
    http, victim = await raw_socket(rig.app.url, rig.cookie)
    try:
        await victim.send_str('42["x","' + "x" * 20_000 + '"]')
        await still_working(rig, 1)
    finally:
        await victim.close()
        await http.close()
    rig.app.stop()
    watch.check()
    assert error_lines(watch) == []
    # What the libraries say about it comes through our pipeline: JSON, no
    # plain-text lines of their own handlers beside it.
    output = rig.app.output().splitlines()
    assert output and [line for line in output if not line.startswith("{")] == []


async def test_an_engineio_session_that_never_logs_in_is_closed(processes: Processes) -> None:
    app = processes.serve()
    http, ws = await anonymous_socket(app.url)
    try:
        started = asyncio.get_running_loop().time()
        async with asyncio.timeout(ANONYMOUS_TIMEOUT_S + 5):
            while True:
                message = await ws.receive()
                if message.type == aiohttp.WSMsgType.TEXT and message.data == "2":
                    await ws.send_str("3")  # keep answering pings: only the timeout ends it
                    continue
                if message.type == aiohttp.WSMsgType.TEXT and message.data != "1":
                    continue
                break  # the CLOSE packet, or the socket's own close
        took = asyncio.get_running_loop().time() - started
        assert ANONYMOUS_TIMEOUT_S - 1 <= took <= ANONYMOUS_TIMEOUT_S + 3
    finally:
        await ws.close()
        await http.close()
