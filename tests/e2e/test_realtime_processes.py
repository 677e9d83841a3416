"""Real time across processes: a job enqueued through one app process reaches a
browser connected to another one (worker → Redis → every app process)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.deployment import Deployment
from ailawyer.realtime.emitter import SocketEmitter
from tests.e2e.support import Stack
from tests.fixtures.live_app import login, make_user
from tests.fixtures.services import REDIS_URL
from tests.fixtures.sockets import SENTINEL_EVENT, Recorder


async def _wait_until_subscribed(client: Recorder, user_id: str, channel: str) -> None:
    """Emit sentinels until one arrives: then this app process listens on Redis."""
    emitter = SocketEmitter(REDIS_URL, channel=channel)
    try:
        async with asyncio.timeout(10):
            while not client.events(SENTINEL_EVENT):
                await emitter.to_user(user_id, SENTINEL_EVENT, {})
                await asyncio.sleep(0.1)
    finally:
        await emitter.close()


@pytest.mark.slow
async def test_a_notification_reaches_a_browser_on_another_app_process(
    two_app_stack: Stack, db: Database, prefix: str
) -> None:
    first, second = two_app_stack.apps
    admin = await make_user(db, Role.ADMIN)
    session = await login(first.url, admin)
    client = Recorder()
    try:
        await client.connect(second.url, session.cookie_header)
        await _wait_until_subscribed(client, admin.id, Deployment(prefix=prefix).socketio_channel)

        created = await session.http.post("/api/admin/test-job")
        assert created.status_code == 201, created.text
        job_id = created.json()["jobId"]

        async with asyncio.timeout(15):
            while True:
                found = [
                    n
                    for n in client.events("notification")
                    if (n.get("data") or {}).get("jobId") == job_id
                ]
                if found:
                    break
                await asyncio.sleep(0.01)
        received_at = time.time()
        notification = found[0]
        assert notification["type"] == "job:completed"
        assert notification["title"] == "Vorgang abgeschlossen"
        assert notification["userId"] == admin.id
        assert notification["read"] is False
        # From the worker's commit (createdAt) to this client, through the other process.
        persisted_at = datetime.fromisoformat(notification["createdAt"]).timestamp()
        assert received_at - persisted_at < 1.0, two_app_stack.logs()

        # It is the persisted row: the API of either process lists it.
        listed = (await session.http.get("/api/notifications")).json()
        assert notification["id"] in [item["id"] for item in listed["items"]]
    finally:
        await client.close()
        await session.http.aclose()
