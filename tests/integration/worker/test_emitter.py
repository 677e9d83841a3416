"""The write-only Socket.IO emitter, read back from its Redis channel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from ailawyer.deployment import Deployment
from ailawyer.realtime.emitter import SocketEmitter, get_socket_emitter
from ailawyer.services.notifications import NotificationOut
from tests.fixtures.services import REDIS_URL, free_port


@pytest.fixture
def name(prefix: str) -> str:
    """This test's Socket.IO channel (its own deployment's, never the default one)."""
    return Deployment(prefix=prefix).socketio_channel


@pytest.fixture
async def channel(redis_client: Redis, name: str) -> AsyncIterator[PubSub]:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(name)
    yield pubsub
    await pubsub.aclose()


async def received(pubsub: PubSub) -> dict[str, object]:
    for _ in range(50):
        message = await pubsub.get_message(timeout=0.1)
        if message is not None:
            payload: dict[str, object] = json.loads(message["data"])
            return payload
    raise AssertionError("nothing published")


async def test_emits_to_user_akte_and_role_rooms(channel: PubSub, name: str) -> None:
    emitter = get_socket_emitter(REDIS_URL, channel=name)
    try:
        assert get_socket_emitter(REDIS_URL, channel=name) is not emitter  # no cache
        notification = NotificationOut(
            id="n1",
            user_id="u1",
            type="job:completed",
            title="Vorgang abgeschlossen",
            message="…",
            data={"jobId": "j1", "queue": "test"},
            read=False,
            dismissed=False,
            sound_type=None,
            created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        )
        await emitter.notify(notification)
        payload = await received(channel)
        assert (payload["method"], payload["event"], payload["room"]) == (
            "emit",
            "notification",
            "user:u1",
        )
        assert payload["namespace"] == "/"
        assert payload["data"] == [notification.to_wire()]
        assert notification.to_wire()["createdAt"] == "2026-01-02T03:04:05Z"

        await emitter.to_akte("a1", "akte:updated", {"id": "a1"})
        assert (await received(channel))["room"] == "akte:a1"
        await emitter.to_role("ADMIN", "notification", {"x": 1})
        assert (await received(channel))["room"] == "role:ADMIN"
    finally:
        await emitter.close()


async def test_concurrent_emits_all_arrive_in_order(channel: PubSub, name: str) -> None:
    # Emits made at the same moment share one pipelined round trip.
    emitter = SocketEmitter(REDIS_URL, channel=name)
    try:
        await asyncio.gather(*(emitter.to_role("ADMIN", "tick", {"n": n}) for n in range(120)))
        payloads = [await received(channel) for _ in range(120)]
    finally:
        await emitter.close()
    assert [(payload["event"], payload["data"]) for payload in payloads] == [
        ("tick", [{"n": n}]) for n in range(120)
    ]


async def test_a_publish_that_cannot_reach_redis_raises() -> None:
    # The caller logs which event was lost; the library alone would only log.
    emitter = SocketEmitter(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(RedisError):
            await emitter.to_user("u1", "notification", {"id": "n1"})
    finally:
        await emitter.close()


def _notification(index: int, user_id: str) -> NotificationOut:
    return NotificationOut(
        id=f"n{index}",
        user_id=user_id,
        type="job:completed",
        title="Vorgang abgeschlossen",
        message="…",
        data={"jobId": f"j{index}", "queue": "test"},
        read=False,
        dismissed=False,
        sound_type=None,
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


async def test_batch_messages_are_the_librarys_own(name: str) -> None:
    # `notify_many` builds the pub/sub message itself; the app's listener must
    # read it exactly like one made by python-socketio's `emit`.
    emitter = SocketEmitter(REDIS_URL, channel=name)
    manager = emitter.manager
    notification = _notification(1, "u1")
    published: list[Any] = []

    async def capture(message: Any) -> None:
        published.append(message)

    manager._publish = capture  # the library's own message, before encoding
    try:
        await emitter.notify(notification)
    finally:
        del manager._publish
        await emitter.close()
    [library] = published
    ours = json.loads(manager.emit_message("user:u1", "notification", notification.to_wire()))
    assert ours == json.loads(json.dumps(library))


async def test_notify_many_publishes_each_to_its_owners_room_in_order(
    channel: PubSub, name: str
) -> None:
    emitter = SocketEmitter(REDIS_URL, channel=name)
    notifications = [_notification(index, f"u{index % 3}") for index in range(7)]
    try:
        await emitter.notify_many(notifications)
        await emitter.notify_many([])  # nothing to send: no round trip, no error
        payloads = [await received(channel) for _ in notifications]
    finally:
        await emitter.close()
    assert [(p["event"], p["room"], p["data"]) for p in payloads] == [
        ("notification", f"user:{n.user_id}", [n.to_wire()]) for n in notifications
    ]
    assert all(p["host_id"] == emitter.manager.host_id for p in payloads)


async def test_notify_many_that_cannot_reach_redis_raises() -> None:
    emitter = SocketEmitter(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(RedisError):
            await emitter.notify_many([_notification(1, "u1")])
    finally:
        await emitter.close()
