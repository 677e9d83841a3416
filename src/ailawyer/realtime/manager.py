"""The app's Socket.IO client manager: Redis fan-out, local delivery without a task per socket.

python-socketio delivers an event that arrives from Redis (`_handle_emit`) through
`AsyncManager.emit`: it encodes the packet once, then starts one asyncio task per
recipient and waits for all of them. Each task does nothing but put the packet on
that socket's Engine.IO queue (an unbounded `asyncio.Queue`, so the put never
waits); its writer task sends it. For a room of 1,000 sockets the tasks and the
wait over them were about a third of the app's CPU per emit.

`LocalDelivery.emit` keeps the library's contract (same arguments, same packets,
same order per socket, recipients resolved the same way) but hands the packet to
each socket in turn, in the emitting coroutine. A failure for one socket (it
closed meanwhile) is logged and the others still get the event, as before. Emits
with an acknowledgement callback (a distinct packet per recipient; nothing of ours
uses them) go through the library's own path unchanged.

It sits between `AsyncPubSubManager` and `AsyncManager` in the class hierarchy, so
the publish side (`AsyncPubSubManager.emit`) and the Redis listener are the
library's, and only the local delivery (the listener's `super().emit(...)`) is ours.

`FactoryRedisManager`: python-socketio's Redis manager builds its own client
from a URL (`Redis.from_url`, or a `Sentinel` for `redis+sentinel://` only, not
`rediss+sentinel://`), with the library's defaults and a new client for every
reconnect. Ours gets one client from `ailawyer.redis` instead, for the life of
the manager: our retry policy, reconnect logging and client name, and a
Sentinel client that follows the primary. That client reconnects (and a pub/sub
connection resubscribes) by itself; the library's own retry loop stays as a
fallback and reuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import socketio
from engineio import packet as eio_packet
from redis.asyncio import Redis
from socketio import packet

from ailawyer.logs import create_logger

log = create_logger("realtime.manager")


class LocalDelivery(socketio.AsyncManager):  # type: ignore[misc]
    """`AsyncManager.emit` without one task per recipient."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:
            await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to
            )
            return
        room = to or room
        if namespace not in self.rooms:
            return
        # The library's argument rules: a tuple is several arguments, None none.
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *args]
        ).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        eio_packets = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]
        failed = 0
        # get_participants() iterates over a copy: a socket leaving meanwhile is safe.
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            try:
                for eio_pkt in eio_packets:
                    await self.server._send_eio_packet(eio_sid, eio_pkt)
            except Exception:
                failed += 1
        if failed:
            log.warning("realtime.delivery_failed", name=event, room=str(room), sockets=failed)


class FactoryRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """python-socketio's Redis manager on one client made by `connect()`."""

    redis: Redis | None
    pubsub: Any

    def __init__(self, *args: Any, connect: Callable[[], Redis], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connect = connect

    def _redis_connect(self) -> None:
        # Called by the library at its first use and after every error it saw;
        # the client and its pub/sub object outlive those errors.
        if self.redis is None:
            self.redis = self._connect()
        if self.pubsub is None:
            self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True


class RedisManager(FactoryRedisManager, LocalDelivery):
    """Our Redis client under python-socketio's manager, delivering locally
    through `LocalDelivery`."""
