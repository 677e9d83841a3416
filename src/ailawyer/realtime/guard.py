"""What any client can send before it has logged in, made harmless.

An Engine.IO session opens with one anonymous `GET /socket.io/?EIO=4`; the
session cookie is checked only when the client then asks Socket.IO to connect.
So everything here happens before we know who is there:

- **Frames that are no packet.** An empty WebSocket frame, or one of an unknown
  Engine.IO type (`9`), made python-engineio log an ERROR with a traceback per
  frame, and the empty one ended the connection without a close frame; a frame
  that is no Socket.IO packet (bad JSON, `2[]`) made python-socketio do the
  same. Such frames are dropped. The first one of a connection is logged as one
  warning (`realtime.bad_packet`); the connection stays up.
- **Sessions that never log in.** A client may open Engine.IO sessions and keep
  them alive by polling without ever connecting to Socket.IO (or after its
  connect was refused). Every session that has no authenticated Socket.IO
  connection `ANONYMOUS_TIMEOUT_S` after it opened is closed.

Bodies of polling POSTs are bounded before Engine.IO sees them (the API's body
limit, 16 KiB under `/socket.io/`); that limit is what keeps an oversized POST
from ever reaching Engine.IO, whose own refusal would wait for the client to
fetch a close packet.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

import socketio
from engineio import packet as eio_packet

from ailawyer.logs import create_logger

log = create_logger("realtime.guard")

# Seconds an Engine.IO session may live without an authenticated Socket.IO
# connection (a browser connects within milliseconds of the handshake).
ANONYMOUS_TIMEOUT_S: Final = 10.0
_EXPIRY_CHECK_S: Final = 1.0
# First characters of a text frame that is an Engine.IO packet (OPEN … NOOP).
_PACKET_TYPES: Final = frozenset(str(kind) for kind in range(len(eio_packet.packet_names)))


def is_engineio_frame(data: Any) -> bool:
    """Whether `data` (a WebSocket frame or one packet of a polling payload) is a
    packet Engine.IO can take: binary (a message), or text of a known type."""
    if isinstance(data, bytes | bytearray):
        return True
    return isinstance(data, str) and bool(data) and data[0] in _PACKET_TYPES


class EngineGuard:
    """Installs itself into one `socketio.AsyncServer` (and its Engine.IO server)."""

    def __init__(
        self, sio: socketio.AsyncServer, *, anonymous_timeout_s: float = ANONYMOUS_TIMEOUT_S
    ) -> None:
        self.sio = sio
        self.anonymous_timeout_s = anonymous_timeout_s
        # Engine.IO sessions without an authenticated Socket.IO connection: when
        # each opened.
        self._anonymous: dict[str, float] = {}
        self._warned: set[str] = set()

    def install(self) -> None:
        eio = self.sio.eio
        connect = self.sio._handle_eio_connect
        disconnect = self.sio._handle_eio_disconnect
        message = self.sio._handle_eio_message
        guard = self

        async def on_connect(eio_sid: str, environ: dict[str, Any]) -> Any:
            guard._anonymous[eio_sid] = time.monotonic()
            socket = eio.sockets.get(eio_sid)
            if socket is not None:
                guard._guard_socket(socket)
            return await connect(eio_sid, environ)

        async def on_disconnect(eio_sid: str, reason: Any = None) -> None:
            guard._anonymous.pop(eio_sid, None)
            guard._warned.discard(eio_sid)
            await disconnect(eio_sid, reason)

        async def on_message(eio_sid: str, data: Any) -> None:
            try:
                await message(eio_sid, data)
            except Exception as exc:  # not a Socket.IO packet
                guard.warn(eio_sid, "socketio", type(exc).__name__, data)

        eio.on("connect", on_connect)
        eio.on("disconnect", on_disconnect)
        eio.on("message", on_message)

        base = eio._async["websocket"]

        class CheckedWebSocket(base):  # type: ignore[misc, valid-type]
            """A frame that is no Engine.IO packet is dropped before Engine.IO
            decodes it (an empty one would end the connection)."""

            async def wait(self) -> Any:
                while True:
                    data = await super().wait()
                    if data is None or is_engineio_frame(data):
                        return data
                    owner = getattr(self.handler, "__self__", None)
                    guard.warn(getattr(owner, "sid", "?"), "engineio", "bad frame", data)

        eio._async = {**eio._async, "websocket": CheckedWebSocket}

    def _guard_socket(self, socket: Any) -> None:
        """Packets of unknown types (polling or WebSocket) and undecodable polling
        payloads are dropped with a warning, instead of a traceback per packet."""
        receive = socket.receive
        handle_post = socket.handle_post_request
        guard = self

        async def checked_receive(pkt: Any) -> None:
            if not 0 <= pkt.packet_type < len(eio_packet.packet_names):
                guard.warn(socket.sid, "engineio", "unknown packet type", pkt.data or "")
                return
            await receive(pkt)

        async def checked_post(environ: dict[str, Any]) -> None:
            try:
                await handle_post(environ)
            except (ValueError, IndexError, UnicodeDecodeError) as exc:
                guard.warn(socket.sid, "engineio", type(exc).__name__, "")

        socket.receive = checked_receive
        socket.handle_post_request = checked_post

    def warn(self, eio_sid: str, layer: str, error: str, data: Any) -> None:
        """One warning per connection, however many bad frames it sends."""
        if eio_sid in self._warned:
            return
        self._warned.add(eio_sid)
        log.warning("realtime.bad_packet", layer=layer, error=error, size=len(data or ""))

    def authenticated(self, sid: str) -> None:
        """A Socket.IO connection of this session was accepted: it may stay."""
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        if eio_sid is not None:
            self._anonymous.pop(eio_sid, None)

    async def expire_anonymous(self) -> None:
        """Close Engine.IO sessions that stayed anonymous for too long (a task)."""
        while True:
            await asyncio.sleep(_EXPIRY_CHECK_S)
            deadline = time.monotonic() - self.anonymous_timeout_s
            expired = [sid for sid, opened in self._anonymous.items() if opened <= deadline]
            for eio_sid in expired:
                self._anonymous.pop(eio_sid, None)
                socket = self.sio.eio.sockets.get(eio_sid)
                if socket is not None and not socket.closed:
                    # Not waiting for the client to read the close packet: it may
                    # never poll again.
                    await socket.close(wait=False, reason=self.sio.eio.reason.SERVER_DISCONNECT)
            if expired:
                log.info("realtime.anonymous_sessions_closed", count=len(expired))
