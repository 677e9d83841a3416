"""System settings: ADMIN only, typed, stored then published, applied by app and worker.

These tests run on a private Redis: `settings:changed` is one channel for
everyone, and "nothing was published" can only be proven where nobody else
publishes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from ailawyer import messages
from ailawyer.db.engine import Database
from ailawyer.db.models import User
from ailawyer.deployment import Deployment
from ailawyer.services.settings import update_setting
from tests.fixtures.live_app import LoggedIn, login
from tests.fixtures.processes import ChildProcess, Processes
from tests.fixtures.services import RedisServer

pytestmark = pytest.mark.slow


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
async def channel(private_redis: RedisServer, prefix: str) -> AsyncIterator[PubSub]:
    client = Redis.from_url(private_redis.url, decode_responses=True)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(Deployment.of(private_redis.url, prefix).settings_channel)
    yield pubsub
    await pubsub.aclose()
    await client.aclose()


async def _published(pubsub: PubSub, wait_s: float) -> list[dict[str, object]]:
    found = []
    deadline = asyncio.get_running_loop().time() + wait_s
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        message = await pubsub.get_message(timeout=left)
        if message is not None:
            found.append(json.loads(message["data"]))
    return found


@pytest.fixture
def app_on_private_redis(
    private_redis: RedisServer,
    processes: Processes,
) -> tuple[ChildProcess, ChildProcess]:
    worker = processes.launch_worker(REDIS_URL=private_redis.url)
    app = processes.serve(REDIS_URL=private_redis.url)
    return app, worker.wait_ready()


async def test_settings_need_an_admin(as_lawyer: LoggedIn) -> None:
    for response in (
        await as_lawyer.http.get("/api/settings"),
        await as_lawyer.http.get("/api/settings/log.level"),
        await as_lawyer.http.put("/api/settings/log.level", json={"value": "debug"}),
    ):
        assert response.status_code == 403
        assert response.json() == {"error": messages.NO_PERMISSION}


async def test_wrong_type_is_422_and_nothing_is_stored_or_published(
    app_on_private_redis: tuple[ChildProcess, ChildProcess],
    admin: User,
    channel: PubSub,
) -> None:
    app, _ = app_on_private_redis
    session = await login(app.url, admin)
    try:
        listed = (await session.http.get("/api/settings")).json()
        assert {"key": "log.level", "value": "info", "type": "string"}.items() <= listed[0].items()

        for value in (5, True, None, ["debug"], {"level": "debug"}, "laut"):
            response = await session.http.put("/api/settings/log.level", json={"value": value})
            assert response.status_code == 422, value
            assert "error" in response.json()
        missing = await session.http.put("/api/settings/log.level", json={})
        assert missing.status_code == 422
        unknown = await session.http.put("/api/settings/gibt.es.nicht", json={"value": "x"})
        assert unknown.status_code == 404
        assert unknown.json() == {"error": messages.SETTING_NOT_FOUND}

        stored = (await session.http.get("/api/settings/log.level")).json()
        assert stored["value"] == "info"
        assert await _published(channel, wait_s=0.5) == []
    finally:
        await session.http.aclose()


async def test_valid_change_is_published_and_applied_by_app_and_worker(
    app_on_private_redis: tuple[ChildProcess, ChildProcess],
    admin: User,
    channel: PubSub,
) -> None:
    app, worker = app_on_private_redis
    session = await login(app.url, admin)
    try:
        response = await session.http.put("/api/settings/log.level", json={"value": "debug"})
        assert response.status_code == 200
        assert response.json()["value"] == "debug"
        assert await _published(channel, wait_s=1.0) == [{"key": "log.level", "value": "debug"}]
        assert (await session.http.get("/api/settings/log.level")).json()["value"] == "debug"
    finally:
        await session.http.aclose()
    for process in (app, worker):
        assert await asyncio.to_thread(process.wait_for_output, "value=debug", 5.0), (
            process.output()[-2000:]
        )
    # The app now logs at debug: its next probe shows up.
    async with app.client() as client:
        await client.get("/api/health/live")
    assert await asyncio.to_thread(app.wait_for_output, "path=/api/health/live", 5.0)


async def test_app_rereads_settings_after_a_redis_reconnect(
    private_redis: RedisServer, processes: Processes, db: Database
) -> None:
    """A change made while Redis was away was never published; the app must
    read it from the database once its subscription is back."""
    app = processes.serve(REDIS_URL=private_redis.url)
    private_redis.stop()
    async with db.session() as session:
        await update_setting(session, "log.level", "debug")
    await asyncio.sleep(1.5)
    private_redis.start()  # the same port again
    assert await asyncio.to_thread(app.wait_for_output, "value=debug", 30.0), app.output()[-3000:]
