"""The Redis client each BullMQ worker gets (`worker/bullmq_connection.py`): the
blocking wait on a connection of its own, commands on a small bounded pool, all
with the factory's never-give-up retry policy."""

from __future__ import annotations

import asyncio
import secrets
import time

from redis.asyncio import Redis

from ailawyer.worker.bullmq_connection import COMMAND_CONNECTIONS, bullmq_worker_redis
from tests.fixtures.services import REDIS_URL


async def _connections_named(name: str) -> int:
    probe = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return sum(1 for client in await probe.client_list() if client.get("name") == name)
    finally:
        await probe.aclose()


async def test_blocking_wait_does_not_hold_the_command_connection() -> None:
    client = bullmq_worker_redis(REDIS_URL)
    key = f"test:marker:{secrets.token_hex(4)}"
    try:
        waiting = asyncio.create_task(client.bzpopmin(key, 3))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        # Many concurrent commands, as BullMQ's fetches after a job: all answered
        # while the blocking wait goes on.
        assert await asyncio.gather(*(client.ping() for _ in range(50))) == [True] * 50
        assert time.monotonic() - started < 1.0
        assert not waiting.done()
        await client.zadd(key, {"0": 0})
        async with asyncio.timeout(2):
            assert (await waiting)[0] == key
    finally:
        await client.delete(key)
        await client.aclose()


async def test_few_connections_with_the_factorys_policy_and_all_closed() -> None:
    client = bullmq_worker_redis(REDIS_URL)
    name = f"ailawyer-test-{secrets.token_hex(4)}"
    key = f"test:marker:{secrets.token_hex(4)}"
    try:
        for pool in (client.connection_pool, client.blocking.connection_pool):
            # The factory's retry policy (never give up) is on every connection.
            assert pool.connection_kwargs["retry"].get_retries() == -1
            pool.connection_kwargs["client_name"] = name
        await asyncio.gather(*(client.ping() for _ in range(50)))
        await client.bzpopmin(key, 0.05)
        # A bounded pool however many commands ran at once, plus the blocking one.
        assert 2 <= await _connections_named(name) <= COMMAND_CONNECTIONS + 1
    finally:
        await client.aclose()
        await client.aclose()  # BullMQ closes its two wrappers of the same client
    assert await _connections_named(name) == 0
