"""The readiness checks themselves, in process, against a private Redis and the
test PostgreSQL: what the worker check asks Redis, and how long it believes
the answer.

A BullMQ worker announces itself by the name of its Redis connections
(`{prefix}:{queue}:w:{worker}`, which BullMQ's `Queue.get_workers` matches); a
connection named like that is what the check looks for, so the tests name one
instead of starting a worker process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ailawyer.api.health import WORKER_SEEN_TTL_S, HealthChecks
from ailawyer.db.engine import Database
from ailawyer.deployment import Deployment
from ailawyer.presence import beat, stop_beating
from ailawyer.queues.client_names import node_client_name
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.registry import load_queues
from ailawyer.redis import get_queue_connection
from tests.fixtures.live_app import app_settings
from tests.fixtures.services import RedisServer

pytestmark = pytest.mark.slow


@pytest.fixture
async def checks(
    redis_server: RedisServer, db: Database, pg_url: str, prefix: str
) -> AsyncIterator[HealthChecks]:
    settings = app_settings(pg_url, prefix, redis_url=redis_server.url)
    connection = get_queue_connection(redis_server.url)
    producer = QueueProducer(connection, load_queues(()), prefix=prefix)
    async with httpx.AsyncClient() as http:
        yield HealthChecks(settings, db, producer, http)
    await producer.close()
    await connection.aclose()


async def client_list_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_client|list", {}).get("calls", 0))


async def named_client(url: str, name: str) -> Redis:
    client = Redis.from_url(url, client_name=name)
    await client.ping()  # the name is set when the connection opens
    return client


async def test_a_live_worker_is_believed_for_one_ttl_then_asked_again(
    checks: HealthChecks, redis_server: RedisServer, prefix: str
) -> None:
    admin = Redis.from_url(redis_server.url)
    worker = await named_client(redis_server.url, f"{prefix}:test:w:health-test")
    try:
        before = await client_list_calls(admin)
        assert await checks.worker()
        for _ in range(5):
            assert await checks.worker()
        # Six answers, one CLIENT LIST (INFO itself is not CLIENT LIST).
        assert await client_list_calls(admin) == before + 1

        await worker.aclose()  # the worker is gone...
        assert await checks.worker()  # ...and still believed, within the TTL
        await asyncio.sleep(WORKER_SEEN_TTL_S + 0.1)
        assert not await checks.worker()  # the outage shows after the TTL
    finally:
        await worker.aclose()
        await admin.aclose()


async def test_no_worker_is_never_cached(
    checks: HealthChecks, redis_server: RedisServer, prefix: str
) -> None:
    assert not await checks.worker()
    worker = await named_client(redis_server.url, f"{prefix}:test:w:late")
    try:
        assert await checks.worker()  # seen at once, no TTL to wait for
    finally:
        await worker.aclose()


async def test_a_client_of_another_prefix_or_queue_is_no_worker_of_ours(
    checks: HealthChecks, redis_server: RedisServer, prefix: str
) -> None:
    others = [
        await named_client(redis_server.url, f"other{prefix}:test:w:x"),
        await named_client(redis_server.url, f"{prefix}:testing:w:x"),
        await named_client(redis_server.url, f"{prefix}-test"),
    ]
    try:
        assert not await checks.worker()
    finally:
        for client in others:
            await client.aclose()


async def test_the_heartbeat_answers_when_no_bullmq_client_is_listed(
    checks: HealthChecks, redis_server: RedisServer, prefix: str
) -> None:
    redis = Redis.from_url(redis_server.url)
    try:
        # Another deployment's heartbeat (same server and db, other prefix) is not ours.
        await beat(redis, Deployment(prefix=f"other{prefix}"), "elsewhere", 10, {"queues": []})
        assert not await checks.worker()
        await beat(redis, Deployment(prefix=prefix), "health-test", 10, {"queues": ["test"]})
        assert await checks.worker()
        await stop_beating(redis, Deployment(prefix=prefix), "health-test")
        await asyncio.sleep(WORKER_SEEN_TTL_S + 0.1)
        assert not await checks.worker()
    finally:
        await redis.aclose()


async def test_redis_and_postgres_checks_touch_their_dependency(
    checks: HealthChecks, redis_server: RedisServer
) -> None:
    assert await checks.postgres()
    assert await checks.redis()
    redis_server.stop()
    with pytest.raises((RedisError, OSError)):
        await checks.redis()


async def test_a_worker_named_the_node_bullmq_way_is_found_in_its_prefix_only(
    checks: HealthChecks, redis_server: RedisServer, prefix: str
) -> None:
    # Our workers name their connections {prefix}:{base64(queue)}:w:{id}.
    other = await named_client(redis_server.url, node_client_name(f"other{prefix}", "test", "x"))
    try:
        assert not await checks.worker()
        ours = await named_client(redis_server.url, node_client_name(prefix, "test", "h:1:ab"))
        try:
            assert await checks.worker()
        finally:
            await ours.aclose()
    finally:
        await other.aclose()
