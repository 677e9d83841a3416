"""`ailawyer worker --check`: the container health check reads the heartbeat."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from redis.asyncio import Redis

from ailawyer.deployment import Deployment
from ailawyer.presence import live_workers
from tests.fixtures.services import RedisServer
from tests.fixtures.workers import WorkerFactory, run_cli

pytestmark = pytest.mark.slow

TTL_S = 2


async def check(factory: WorkerFactory, redis_url: str) -> int:
    env = factory.env(REDIS_URL=redis_url)
    result = await asyncio.to_thread(run_cli, "worker", "--check", env=env)
    return result.returncode


async def test_check_follows_the_heartbeat(
    redis_server: RedisServer, worker_process: WorkerFactory
) -> None:
    # A Redis of its own: no other test's worker heartbeat can answer for ours.
    url = redis_server.url
    redis = Redis.from_url(url)
    try:
        worker = await worker_process(REDIS_URL=url, WORKER_HEARTBEAT_TTL=str(TTL_S))
        deployment = Deployment.of(url, worker_process.prefix)
        assert await check(worker_process, url) == 0
        await asyncio.sleep(TTL_S + 0.5)  # refreshed every ttl/3: still fresh
        assert len(await live_workers(redis, deployment)) == 1

        worker.send(signal.SIGKILL)  # no goodbye: the key has to expire by itself
        await worker.wait_exit(timeout=5)
        killed = time.monotonic()
        while await live_workers(redis, deployment):
            assert time.monotonic() - killed < TTL_S + 0.5, "heartbeat outlived its TTL"
            await asyncio.sleep(0.05)
        assert await check(worker_process, url) == 1
    finally:
        await redis.aclose()


async def test_check_fails_when_redis_is_unreachable(worker_process: WorkerFactory) -> None:
    started = time.monotonic()
    assert await check(worker_process, "redis://127.0.0.1:1/0") == 1
    assert time.monotonic() - started < 15
