"""`settings:changed`: the running worker applies `log.level` without a restart."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from ailawyer.db.engine import Database
from ailawyer.db.models import User
from ailawyer.deployment import Deployment
from ailawyer.queues import TestJobData, test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.registry import load_queues
from ailawyer.redis import get_queue_connection
from ailawyer.services.settings import change_message, seed_defaults
from ailawyer.services.settings import update_setting as store_setting
from tests.fixtures.processes import ChildProcess, Processes
from tests.fixtures.services import RedisServer

pytestmark = pytest.mark.slow


async def run_test_job(
    producer: QueueProducer, worker: ChildProcess, owner: User
) -> tuple[str, list[str]]:
    """Run one job; the levels of the lines it logged."""
    enqueued = await producer.enqueue(test_queue, TestJobData(user_id=owner.id, message="m"))
    await worker.wait_for("job.completed", jobId=enqueued.id, timeout=10)
    return enqueued.id, [
        line["level"] for line in worker.lines() if line.get("jobId") == enqueued.id
    ]


async def test_published_log_level_applies_at_once_and_garbage_is_ignored(
    redis_server: RedisServer,
    processes: Processes,
    owner: User,
    prefix: str,
    extra_queue_modules: tuple[str, ...],
) -> None:
    worker = await processes.worker(REDIS_URL=redis_server.url)
    redis = Redis.from_url(redis_server.url)
    connection = get_queue_connection(redis_server.url)
    producer = QueueProducer(connection, load_queues(list(extra_queue_modules)), prefix=prefix)
    try:
        _, levels = await run_test_job(producer, worker, owner)
        assert "debug" not in levels and "info" in levels

        await redis.publish(Deployment(prefix=prefix).settings_channel, "{not json")
        await redis.publish(
            Deployment(prefix=prefix).settings_channel, '{"key": 1, "value": "debug"}'
        )
        await worker.wait_for("settings.malformed_message", count=2, timeout=5)

        await redis.publish(
            Deployment(prefix=prefix).settings_channel, change_message("log.level", "debug")
        )
        await worker.wait_for("settings.applied", value="debug", timeout=5)
        _, levels = await run_test_job(producer, worker, owner)
        assert "debug" in levels  # job.started, notification.emitted
        assert worker.running
    finally:
        await producer.close()
        await connection.aclose()
        await redis.aclose()


async def test_after_a_redis_restart_the_settings_are_read_again(
    redis_server: RedisServer,
    processes: Processes,
    db: Database,
    owner: User,
    prefix: str,
    extra_queue_modules: tuple[str, ...],
) -> None:
    worker = await processes.worker(REDIS_URL=redis_server.url)
    await worker.wait_for("settings.reloaded", timeout=5)
    # Changed while the worker cannot hear it (nothing is published).
    async with db.session() as session:
        await seed_defaults(session)
        await store_setting(session, "log.level", "debug")

    redis_server.stop()
    redis_server.start()  # same port, empty: every subscription is gone
    await worker.wait_for("pubsub.subscribed", count=2, timeout=20)
    await worker.wait_for("settings.reloaded", count=2, timeout=5)
    await worker.wait_for("settings.applied", value="debug", timeout=5)

    connection = get_queue_connection(redis_server.url)
    producer = QueueProducer(connection, load_queues(list(extra_queue_modules)), prefix=prefix)
    try:
        _, levels = await run_test_job(producer, worker, owner)
        assert "debug" in levels  # and the queues work again after the restart
    finally:
        await producer.close()
        await connection.aclose()
