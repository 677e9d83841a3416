"""The app's Socket.IO server: session auth at connect, rooms, case-file joins.

Browsers connect to the app's own origin (`/socket.io/`). The session cookie is
checked in the `connect` handler: no valid session, no connection. A connection
joins `user:{id}` and `role:{ROLE}`; it joins `akte:{id}` on request
(`akte:join`) only if `can_join_akte` says so (members and ADMIN).

Fan-out goes through Redis (`AsyncRedisManager`) on the deployment's Socket.IO
channel (`Deployment.socketio_channel`): the worker's write-only emitter
publishes on the same channel, and every app process delivers to the
browsers connected to it (`realtime.manager`: without a task per socket). The
lifespan owns the server: `start()` subscribes, `close()` disconnects clients
and cancels the listener, leaving no task behind.

A socket lives no longer than its session. Logging out (or an account that is
deactivated) publishes the session's id on the deployment's sessions channel;
every app process ends that session's sockets at once (`end_sessions`). A sweep
every `SESSION_RECHECK_S` asks the database about the sessions of all connected
sockets, for what no message announced (an expiry, a change made directly in the
database, a message lost while Redis was away), and each `akte:join` asks about
its own session before it is allowed.

Handlers never raise: a malformed payload or an unknown event is answered (or
ignored) and the connection stays up.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import socketio
from starlette.requests import cookie_parser
from starlette.types import Receive, Scope, Send

from ailawyer import messages
from ailawyer.logs import create_logger, log_context
from ailawyer.realtime.guard import ANONYMOUS_TIMEOUT_S, EngineGuard
from ailawyer.realtime.manager import RedisManager
from ailawyer.realtime.rooms import akte_room, role_room, user_room
from ailawyer.redis import create_redis_connection
from ailawyer.redis_target import RedisTarget, as_target

log = create_logger("realtime.server")


def _library_logger(name: str) -> logging.Logger:
    """python-socketio's or python-engineio's logger, through our pipeline.

    Given `False`, each library attaches a plain-text handler of its own, and its
    lines (a lost Redis subscription, a broken frame) appeared twice, once not as
    JSON. Given a logger, it uses that as it is. At warn: at info the libraries
    log every connection and every emit.
    """
    logger = logging.getLogger(name)
    logger.setLevel(logging.WARNING)
    return logger


SOCKETIO_PATH: Final = "/socket.io"
# Reasons a refused connection carries (`connect_error` in the browser).
REFUSED_UNAUTHORIZED: Final = "unauthorized"
REFUSED_UNAVAILABLE: Final = "unavailable"
JOIN_EVENT: Final = "akte:join"
LEAVE_EVENT: Final = "akte:leave"
# Nothing a browser sends us is large; a bigger frame is refused by Engine.IO.
MAX_MESSAGE_BYTES: Final = 16_384
_AKTE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# How often the sessions of connected sockets are checked against the database
# (SESSION_RECHECK_INTERVAL).
SESSION_RECHECK_S: Final = 30.0
# A session's id: the SHA-256 of its token, as stored (`services.auth.session_id`).
_SESSION_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Principal:
    """Who a connection belongs to, fixed at connect, and the session it rides on."""

    user_id: str
    role: str
    session_id: str


# Cookies of the handshake request → the session's user, or None.
Authenticate = Callable[[Mapping[str, str]], Awaitable[Principal | None]]
# (principal, akte id) → may this connection join the Akte's room?
CanJoinAkte = Callable[[Principal, str], Awaitable[bool]]
# Session ids → those of them that are still valid.
CheckSessions = Callable[[set[str]], Awaitable[set[str]]]


def _ack(ok: bool, error: str | None = None, **extra: Any) -> dict[str, Any]:
    reply: dict[str, Any] = {"ok": ok, **extra}
    if error is not None:
        reply["error"] = error
    return reply


def _akte_id(payload: object) -> str | None:
    if not isinstance(payload, dict):
        return None
    value = payload.get("akteId")
    return value if isinstance(value, str) and _AKTE_ID.match(value) else None


class SocketServer:
    """Owns one `socketio.AsyncServer` and its Redis subscription."""

    def __init__(
        self,
        *,
        redis_url: str | RedisTarget,
        authenticate: Authenticate,
        can_join_akte: CanJoinAkte,
        check_sessions: CheckSessions,
        channel: str,
        recheck_s: float = SESSION_RECHECK_S,
        anonymous_timeout_s: float = ANONYMOUS_TIMEOUT_S,
    ) -> None:
        self._authenticate = authenticate
        self._can_join_akte = can_join_akte
        self._check_sessions = check_sessions
        self._recheck_s = recheck_s
        self._started = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # The connected sockets of each session (this process's only).
        self._sockets: dict[str, set[str]] = {}
        target = as_target(redis_url)
        manager = RedisManager(
            target.display,
            channel=channel,
            # A subscription never gives up (it pings every 30 s, so a silently
            # dropped one is noticed); python-socketio compares bytes.
            connect=lambda: create_redis_connection(
                max_retries_per_request=None,
                url=target,
                name="ailawyer-socketio",
                decode_responses=False,
            ),
        )
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=manager,
            # Same origin only: the pages are served by this app.
            cors_allowed_origins=None,
            # Events run in the connection's own task: nothing outlives it.
            async_handlers=False,
            max_http_buffer_size=MAX_MESSAGE_BYTES,
            logger=_library_logger("socketio.server"),
            engineio_logger=_library_logger("engineio.server"),
        )
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on(JOIN_EVENT, self._on_join)
        self.sio.on(LEAVE_EVENT, self._on_leave)
        self.sio.on("*", self._on_other)
        self._track_background_tasks()
        # Bad frames and sessions that never log in (`realtime.guard`).
        self.guard = EngineGuard(self.sio, anonymous_timeout_s=anonymous_timeout_s)
        self.guard.install()

    def _track_background_tasks(self) -> None:
        """Keep a handle on every task the library starts (Redis listener, pings,
        Engine.IO's service task): it fires and forgets them, `close()` must not."""
        eio = self.sio.eio
        start = eio.start_background_task

        def tracked(target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            task = start(target, *args, **kwargs)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return task

        eio.start_background_task = tracked

    # ---- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the Redis channel now, not at the first browser's connect."""
        if self._started:
            return
        self._started = True
        # The library starts its manager lazily on the first connection; doing it
        # here puts the listener task under the lifespan's control.
        self.sio.manager_initialized = True
        self.sio.manager.initialize()
        self.sio.start_background_task(self._recheck_sessions)
        self.sio.start_background_task(self.guard.expire_anonymous)
        log.info("realtime.started")

    async def close(self) -> None:
        """Disconnect every client, then end every task the library started."""
        eio = self.sio.eio
        # Not `eio.disconnect()`: it waits until each client has read its CLOSE
        # packet, forever for a long-polling client that stopped polling.
        for client in list(eio.sockets.values()):
            await client.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
        eio.sockets.clear()
        await self.sio.shutdown()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        manager = self.sio.manager
        pubsub = getattr(manager, "pubsub", None)
        if pubsub is not None:
            await pubsub.aclose()
        redis = getattr(manager, "redis", None)
        if redis is not None:
            await redis.aclose()
        self._started = False
        log.info("realtime.stopped", cancelled_tasks=len(tasks))

    async def to_user(self, user_id: str, event: str, data: Any) -> None:
        """An event to a user's sockets, on every app process (through Redis)."""
        await self.sio.emit(event, data, room=user_room(user_id))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one Engine.IO HTTP (polling) or WebSocket request."""
        await self.sio.handle_request(scope, receive, send)

    # ---- sessions ----------------------------------------------------------

    async def end_sessions(self, session_ids: Iterable[str]) -> int:
        """Disconnect this process's sockets of these sessions; returns how many."""
        ended = 0
        for session_id in session_ids:
            for sid in list(self._sockets.pop(session_id, ())):
                await self.sio.disconnect(sid, ignore_queue=True)
                ended += 1
        if ended:
            log.info("realtime.session_ended", sockets=ended)
        return ended

    async def on_sessions_message(self, raw: bytes | str) -> None:
        """The sessions channel's handler: each message is one ended session's id."""
        session_id = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        if _SESSION_ID.fullmatch(session_id) is None:
            log.warning("realtime.malformed_session_message", size=len(raw))
            return
        await self.end_sessions([session_id])

    async def sweep(self) -> int:
        """Ask the database about every connected socket's session; end the ones
        that are no longer valid. Returns how many sockets were disconnected."""
        known = set(self._sockets)
        if not known:
            return 0
        valid = await self._check_sessions(known)
        return await self.end_sessions(known - valid)

    async def _recheck_sessions(self) -> None:
        while True:
            await asyncio.sleep(self._recheck_s)
            try:
                await self.sweep()
            except Exception as exc:  # the database is away: next time
                log.warning("realtime.session_check_failed", error=type(exc).__name__)

    # ---- handlers ----------------------------------------------------------

    async def _principal(self, sid: str) -> Principal | None:
        try:
            session = await self.sio.get_session(sid)
        except KeyError:
            return None
        principal = session.get("principal")
        return principal if isinstance(principal, Principal) else None

    async def _on_connect(self, sid: str, environ: dict[str, Any], _auth: Any = None) -> None:
        cookies = cookie_parser(str(environ.get("HTTP_COOKIE", "")))
        try:
            principal = await self._authenticate(cookies)
        except Exception:
            # The session store did not answer: refuse, and say it is not the
            # browser's fault (it retries instead of going to the login page).
            log.exception("realtime.connect_unavailable")
            raise socketio.exceptions.ConnectionRefusedError(REFUSED_UNAVAILABLE) from None
        if principal is None:
            log.info("realtime.connect_refused")
            raise socketio.exceptions.ConnectionRefusedError(REFUSED_UNAUTHORIZED)
        await self.sio.save_session(sid, {"principal": principal})
        self.guard.authenticated(sid)
        self._sockets.setdefault(principal.session_id, set()).add(sid)
        await self.sio.enter_room(sid, user_room(principal.user_id))
        await self.sio.enter_room(sid, role_room(principal.role))
        with log_context(userId=principal.user_id):
            log.info("realtime.connected", sid=sid, role=principal.role)

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        principal = await self._principal(sid)
        if principal is not None:
            sockets = self._sockets.get(principal.session_id)
            if sockets is not None:
                sockets.discard(sid)
                if not sockets:
                    del self._sockets[principal.session_id]
        with log_context(userId=principal.user_id if principal else None):
            log.info("realtime.disconnected", sid=sid, reason=str(reason))

    async def _on_join(self, sid: str, payload: Any = None, *_: Any) -> dict[str, Any]:
        principal = await self._principal(sid)
        akte_id = _akte_id(payload)
        if principal is None or akte_id is None:
            return _ack(False, messages.INVALID_INPUT)
        with log_context(userId=principal.user_id, akteId=akte_id):
            try:
                session_valid = bool(await self._check_sessions({principal.session_id}))
                allowed = session_valid and await self._can_join_akte(principal, akte_id)
            except Exception:
                # A database hiccup must not end the connection; the browser may ask again.
                log.exception("realtime.join_failed")
                return _ack(False, messages.SERVICE_UNAVAILABLE)
            if not session_valid:
                # Logged out meanwhile: this socket ends too, after its answer.
                log.info("realtime.join_refused", reason="session")
                self.sio.start_background_task(self.end_sessions, [principal.session_id])
                return _ack(False, messages.NOT_AUTHENTICATED)
            if not allowed:
                log.info("realtime.join_refused")
                return _ack(False, messages.NO_PERMISSION)
            room = akte_room(akte_id)
            await self.sio.enter_room(sid, room)
            log.info("realtime.joined", room=room)
            return _ack(True, room=room)

    async def _on_leave(self, sid: str, payload: Any = None, *_: Any) -> dict[str, Any]:
        akte_id = _akte_id(payload)
        if akte_id is None:
            return _ack(False, messages.INVALID_INPUT)
        room = akte_room(akte_id)
        await self.sio.leave_room(sid, room)
        return _ack(True, room=room)

    async def _on_other(self, event: str, sid: str, *_: Any) -> None:
        """Unknown events are ignored (and logged at debug), never an error."""
        log.debug("realtime.unknown_event", sid=sid, name=str(event)[:64])


class SocketEndpoint:
    """ASGI endpoint mounted at `/socket.io`; finds the server in the lifespan state.

    The server belongs to the lifespan (it holds a Redis subscription), while the
    routes are declared in `create_app`, before any lifespan runs. This endpoint
    bridges the two: `locate` picks the running server out of each request's scope.
    """

    def __init__(self, locate: Callable[[Scope], SocketServer]) -> None:
        self._locate = locate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._locate(scope).handle(scope, receive, send)
