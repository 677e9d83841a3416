"""Reaching browsers from any process: Socket.IO's write-only Redis manager.

The emitter publishes on the Redis channel that every app process's Socket.IO
server listens to; each server delivers the event to its own sockets in the room.
So the worker (or a second app) never needs to know where a browser is connected.

Pub/sub is fire-and-forget: an event emitted while a browser is away is lost. That
is why a notification is persisted before it is emitted, and why browsers refetch
unread notifications on every (re)connect. An emit that fails is logged by the
caller and never undoes work that is already committed.
"""

from __future__ import annotations

import logging
from typing import Any

from ailawyer.batching import GroupCall
from ailawyer.deployment import SOCKETIO_CHANNEL
from ailawyer.realtime.manager import FactoryRedisManager
from ailawyer.realtime.rooms import NOTIFICATION_EVENT, akte_room, role_room, user_room
from ailawyer.redis import create_redis_connection
from ailawyer.redis_target import RedisTarget, as_target
from ailawyer.services.notifications import NotificationOut

# A hung Redis must not hold a job: publishing is one short command.
EMIT_SOCKET_TIMEOUT_S = 2.0
# Retries of one publish (at the factory's 1 s floor): enough to ride over a
# reconnect, short of the caller's emit timeout (`worker.notify`).
EMIT_RETRIES = 1
# At most this many events per pipelined round trip.
MAX_PUBLISH_BATCH = 200


class _PipelinedRedisManager(FactoryRedisManager):
    """The write-only Redis manager, publishing concurrent emits in one round trip.

    `_publish` is the hook a pub/sub manager implements; the message format and
    its encoding stay python-socketio's own. A worker finishing fifty jobs at once
    sends their fifty PUBLISH commands in one pipeline instead of fifty round
    trips. Unlike the library's `_publish`, which logs and swallows a failure, a
    failed publish is raised, so the caller's log line says which event was lost.
    """

    connected: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._publish_group: GroupCall[str, int] = GroupCall(
            self._publish_batch, max_batch=MAX_PUBLISH_BATCH
        )

    async def _publish(self, data: Any) -> int:
        return await self._publish_group(self.json.dumps(data))

    def emit_message(self, room: str, event: str, data: Any) -> str:
        """The pub/sub message `AsyncPubSubManager.emit` would publish, encoded.

        For one JSON argument without an acknowledgement, in the default
        namespace: what our notifications are. The app's listener
        (`_handle_emit`) reads it like the library's own (a test compares the
        two); skipping the library's path saves its binary scan, its local
        delivery attempt (a write-only manager has no sockets) and a task
        switch per event.
        """
        message = {
            "method": "emit",
            "event": event,
            "data": [data],
            "binary": False,
            "namespace": "/",
            "room": room,
            "skip_sid": None,
            "callback": None,
            "host_id": self.host_id,
        }
        return str(self.json.dumps(message))

    async def publish_many(self, payloads: list[str]) -> list[int]:
        """Publish encoded messages in one pipelined round trip (retried once)."""
        if not payloads:
            return []
        return await self._publish_batch(payloads)

    async def _publish_batch(self, payloads: list[str]) -> list[int]:
        try:
            return await self._send(payloads)
        except Exception:
            # Once more on a new connection, as the library does.
            return await self._send(payloads)

    async def _send(self, payloads: list[str]) -> list[int]:
        try:
            if not self.connected:
                self._redis_connect()
            assert self.redis is not None
            async with self.redis.pipeline(transaction=False) as pipe:
                for payload in payloads:
                    pipe.publish(self.channel, payload)
                receivers: list[int] = await pipe.execute()
            return receivers
        except Exception:
            self.connected = False  # connect again on the next attempt
            raise


class SocketEmitter:
    """Emits events to rooms through Redis. Connects on the first emit."""

    def __init__(self, redis_url: str | RedisTarget, *, channel: str = SOCKETIO_CHANNEL) -> None:
        target = as_target(redis_url)
        self.manager = _PipelinedRedisManager(
            target.display,
            channel=channel,
            write_only=True,
            # The library logs publish failures itself; through our pipeline.
            logger=logging.getLogger("ailawyer.realtime.emitter"),
            connect=lambda: create_redis_connection(
                max_retries_per_request=EMIT_RETRIES,
                url=target,
                name="ailawyer-emitter",
                decode_responses=False,
                timeout_s=EMIT_SOCKET_TIMEOUT_S,
            ),
        )

    async def emit(self, room: str, event: str, data: Any) -> None:
        await self.manager.emit(event, data, room=room)

    async def to_user(self, user_id: str, event: str, data: Any) -> None:
        await self.emit(user_room(user_id), event, data)

    async def to_akte(self, akte_id: str, event: str, data: Any) -> None:
        await self.emit(akte_room(akte_id), event, data)

    async def to_role(self, role: str, event: str, data: Any) -> None:
        await self.emit(role_room(role), event, data)

    async def notify(self, notification: NotificationOut) -> None:
        """Push a persisted notification to its owner's browsers."""
        await self.to_user(notification.user_id, NOTIFICATION_EVENT, notification.to_wire())

    async def notify_many(self, notifications: list[NotificationOut]) -> None:
        """Push several persisted notifications, each to its owner's browsers, in
        one round trip: the notifications of jobs committed together.

        One message per notification (each goes to its own `user:{id}` room and
        the app delivers them one by one), built and encoded here in a loop and
        sent as one pipeline. Raises when the publish fails: all of them are lost
        then, and the caller logs which.
        """
        manager = self.manager
        payloads = [
            manager.emit_message(user_room(n.user_id), NOTIFICATION_EVENT, n.to_wire())
            for n in notifications
        ]
        await manager.publish_many(payloads)

    async def close(self) -> None:
        pubsub = getattr(self.manager, "pubsub", None)
        redis = getattr(self.manager, "redis", None)
        if pubsub is not None:
            await pubsub.aclose()
        if redis is not None:
            await redis.aclose()
        self.manager.redis = None
        self.manager.pubsub = None
        self.manager.connected = False


def get_socket_emitter(
    redis_url: str | RedisTarget, *, channel: str = SOCKETIO_CHANNEL
) -> SocketEmitter:
    """A new emitter. No cache: whoever creates it owns it and closes it (the
    worker's runner creates one at start and closes it at shutdown)."""
    return SocketEmitter(redis_url, channel=channel)
