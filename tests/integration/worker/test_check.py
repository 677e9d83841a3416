"""`ailawyer worker --check`: the container health check reads the heartbeat."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from redis.asyncio import Redis

from ailawyer.deployment import Deployment
from ailawyer.presence import live_workers
from tests.fixtures.processes import Processes, run_cli
from tests.fixtures.services import RedisServer

pytestmark = pytest.mark.slow

TTL_S = 2


async def check(processes: Processes, redis_url: str) -> int:
    env = processes.env(REDIS_URL=redis_url)
    result = await asyncio.to_thread(run_cli, "worker", "--check", env=env, timeout=30)
    return result.returncode


async def test_check_follows_the_heartbeat(
    redis_server: RedisServer, processes: Processes, prefix: str
) -> None:
    # A Redis of its own: no other test's worker heartbeat can answer for ours.
    url = redis_server.url
    redis = Redis.from_url(url)
    try:
        worker = await processes.worker(REDIS_URL=url, WORKER_HEARTBEAT_TTL=str(TTL_S))
        deployment = Deployment.of(url, prefix)
        assert await check(processes, url) == 0
        await asyncio.sleep(TTL_S + 0.5)  # refreshed every ttl/3: still fresh
        assert len(await live_workers(redis, deployment)) == 1

        worker.send(signal.SIGKILL)  # no goodbye: the key has to expire by itself
        await worker.wait_exit(timeout=5)
        killed = time.monotonic()
        while await live_workers(redis, deployment):
            assert time.monotonic() - killed < TTL_S + 0.5, "heartbeat outlived its TTL"
            await asyncio.sleep(0.05)
        assert await check(processes, url) == 1
    finally:
        await redis.aclose()


async def test_check_fails_when_redis_is_unreachable(processes: Processes) -> None:
    started = time.monotonic()
    assert await check(processes, "redis://127.0.0.1:1/0") == 1
    assert time.monotonic() - started < 15
