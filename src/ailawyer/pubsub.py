"""Following Redis channels for the life of a process, through reconnects.

A `Subscription` holds one pub/sub connection of its own (a client that never
gives up) for a few channels of the deployment, and hands each message to its
channel's handler. Pub/sub keeps nothing: whatever was published while a
process was disconnected is lost. So after every (re)subscription `resync`
runs, to catch up from the source of truth (the settings re-read from the
database; the sessions of connected sockets checked again). A resync that fails
is tried again a little later, and a handler that fails is logged: neither ends
the subscription.

The redis client reconnects and resubscribes by itself; the server's `subscribe`
confirmations that follow each reconnect are the signal to resync.

`live_epoch` tells a cache that relies on these messages whether it may trust
what it holds: the number of the current subscription while every channel is
subscribed and the connection is up, None from the moment the connection drops
(or reconnects) until the server confirmed the subscription again. An entry
cached under an earlier epoch may have missed a message and is not used.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from ailawyer.logs import create_logger

log = create_logger("pubsub")

# One message's payload, as Redis delivered it.
Handler = Callable[[bytes | str], Awaitable[None]]
# Catch up after a (re)subscription; raises when it could not.
Resync = Callable[[], Awaitable[None]]

POLL_S: Final = 5.0  # wake this often to health-check the connection and retry a resync
RESYNC_RETRY_S: Final = 10.0
RESUBSCRIBE_DELAY_S: Final = 1.0


class Subscription:
    def __init__(
        self, redis: Redis, handlers: Mapping[str, Handler], *, resync: Resync | None = None
    ) -> None:
        self.redis = redis
        self.handlers = dict(handlers)
        self.resync = resync
        # How often every channel was (re)subscribed, for logs and tests.
        self.subscriptions = 0
        # Set once every channel is subscribed and the first resync ran: a starting
        # process may wait for it, so a message published right after its start is
        # not missed.
        self.subscribed = asyncio.Event()
        self._confirmed: set[str] = set()
        self._resync_due: float | None = None
        self._live = False
        self._pubsub: PubSub | None = None

    def live_epoch(self) -> int | None:
        """The current subscription's number while messages are sure to arrive, else None."""
        pubsub = self._pubsub
        if not self._live or pubsub is None:
            return None
        connection = pubsub.connection
        if connection is None or not connection.is_connected:
            return None
        return self.subscriptions

    async def _on_connect(self, _connection: Any) -> None:
        """Called by the client on every (re)connect, before the new confirmations:
        whatever was published while it was away is lost."""
        self._live = False
        self._confirmed.clear()

    async def run(self) -> None:
        """Listen until cancelled. Errors are logged; the loop subscribes again."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    self._live = False
                    self._confirmed.clear()
                    self._pubsub = pubsub
                    await pubsub.subscribe(*self.handlers)
                    if pubsub.connection is not None:
                        pubsub.connection.register_connect_callback(self._on_connect)
                    while True:
                        message = await pubsub.get_message(timeout=POLL_S)
                        if message is not None:
                            await self._handle(message)
                        if self._resync_due is not None and time.monotonic() >= self._resync_due:
                            await self._resync()
            except asyncio.CancelledError:
                self._live = False
                raise
            except Exception as exc:
                self._live = False
                log.warning(
                    "pubsub.subscription_lost",
                    channels=list(self.handlers),
                    error=type(exc).__name__,
                )
                await asyncio.sleep(RESUBSCRIBE_DELAY_S)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = _text(message.get("channel"))
        if kind == "subscribe":
            if self._live:
                return  # a duplicate confirmation
            self._confirmed.add(channel)
            if self._confirmed >= self.handlers.keys():
                self.subscriptions += 1
                log.info(
                    "pubsub.subscribed", channels=list(self.handlers), count=self.subscriptions
                )
                await self._resync()
                self._live = True
                self.subscribed.set()
        elif kind == "message":
            handler = self.handlers.get(channel)
            if handler is None:
                return
            try:
                await handler(message.get("data") or b"")
            except Exception:
                log.exception("pubsub.handler_failed", channel=channel)

    async def _resync(self) -> None:
        if self.resync is None:
            return
        try:
            await self.resync()
        except Exception as exc:
            self._resync_due = time.monotonic() + RESYNC_RETRY_S
            log.error(
                "pubsub.resync_failed", channels=list(self.handlers), error=type(exc).__name__
            )
        else:
            self._resync_due = None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
