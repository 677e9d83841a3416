"""The factory's clients with a Sentinel REDIS_URL, in process: they follow the
primary through a polite failover and a SIGKILL, and the probe and start-up
checks tell a wrong configuration from a primary that is briefly away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from ailawyer.errors import StartupError
from ailawyer.pubsub import Subscription
from ailawyer.redis import create_redis_connection, get_queue_connection, get_worker_connection
from ailawyer.redis_checks import (
    PrimaryUnknown,
    RedisProbe,
    SentinelsUnreachable,
    require_redis,
    require_sentinels,
)
from ailawyer.worker.bullmq_connection import bullmq_worker_redis
from tests.fixtures.sentinel import SentinelSetup, random_password, sentinel_setup
from tests.fixtures.services import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelSetup]:
    started = sentinel_setup(
        tmp_path / "sentinel", password=random_password(), sentinel_password=random_password()
    )
    yield started
    started.stop()


async def switch(sentinels: SentinelSetup) -> tuple[int, int]:
    old = sentinels.failover()
    new = await asyncio.to_thread(sentinels.wait_switched, old)
    return old.port, new.port


async def test_a_client_follows_the_primary_through_a_failover(sentinels: SentinelSetup) -> None:
    client = get_worker_connection(sentinels.target)
    try:
        await client.set("k", "before")
        old_port, new_port = await switch(sentinels)
        # Once the pool's watch sees the switch (about a second), writes reach the
        # new primary, although the old one still takes writes for a while.
        deadline = time.monotonic() + 15
        new = sentinels.data_client(sentinels.node(new_port))
        try:
            while True:
                value = f"after-{time.monotonic()}"
                await client.set("k", value)
                if new.get("k") == value:
                    break
                assert time.monotonic() < deadline, "writes still go to the old primary"
                await asyncio.sleep(0.2)
        finally:
            new.close()
        assert old_port != new_port
    finally:
        await client.aclose()


async def test_a_subscription_resubscribes_on_the_new_primary(sentinels: SentinelSetup) -> None:
    client = create_redis_connection(
        max_retries_per_request=None, url=sentinels.target, name="t-control"
    )
    received: list[bytes | str] = []

    async def on_message(data: bytes | str) -> None:
        received.append(data)

    subscription = Subscription(client, {"t:channel": on_message})
    task = asyncio.create_task(subscription.run())
    try:
        await asyncio.wait_for(subscription.subscribed.wait(), 10)
        _, new_port = await switch(sentinels)
        new = sentinels.data_client(sentinels.node(new_port))
        try:
            async with asyncio.timeout(15):
                while not received:
                    new.publish("t:channel", "on the new primary")
                    await asyncio.sleep(0.2)
        finally:
            new.close()
        assert subscription.subscriptions >= 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()


async def test_the_bullmq_connection_blocks_and_commands_on_the_new_primary(
    sentinels: SentinelSetup,
) -> None:
    connection = bullmq_worker_redis(sentinels.target)
    # BullMQ's marker wait, pending through the switch.
    waiting = asyncio.create_task(connection.bzpopmin("t:marker", 30))
    try:
        assert await connection.ping()
        await asyncio.sleep(0.3)
        _, new_port = await switch(sentinels)
        new = sentinels.data_client(sentinels.node(new_port))
        try:
            async with asyncio.timeout(20):
                while not waiting.done():
                    new.zadd("t:marker", {"0": 0})
                    await asyncio.sleep(0.2)
        finally:
            new.close()
        assert waiting.result() is not None
        await connection.set("t:command", "on the new primary")
        new = sentinels.data_client(sentinels.node(new_port))
        try:
            assert new.get("t:command") == "on the new primary"
        finally:
            new.close()
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await connection.aclose()


async def test_a_sigkilled_primary_is_left_for_the_promoted_replica(
    sentinels: SentinelSetup,
) -> None:
    client = get_queue_connection(sentinels.target)
    try:
        await client.set("k", "before")
        assert sentinels.wait_replicated() == 1
        old = sentinels.kill_primary()
        await asyncio.to_thread(sentinels.wait_switched, old)
        async with asyncio.timeout(20):
            while True:
                try:
                    assert await client.get("k") == "before"
                    break
                except RedisConnectionError:
                    await asyncio.sleep(0.2)
        await client.set("k", "after")
        assert await client.get("k") == "after"
    finally:
        await client.aclose()


async def test_the_probe_asks_a_sentinel_then_pings_the_primary(
    sentinels: SentinelSetup,
) -> None:
    target = sentinels.target
    probe = RedisProbe(target, timeout_s=2)
    assert await probe.ping()
    host, port = await probe.primary_address()
    assert (host, port) == ("127.0.0.1", sentinels.primary_port())

    unknown = RedisProbe(replace(target, service_name="elsewhere"), timeout_s=2)
    with pytest.raises(PrimaryUnknown, match="know no primary named 'elsewhere'"):
        await unknown.ping()
    nobody = replace(target, sentinels=(("127.0.0.1", free_port()), ("127.0.0.1", free_port())))
    with pytest.raises(SentinelsUnreachable, match="no sentinel in REDIS_URL answers"):
        await RedisProbe(nobody, timeout_s=1).ping()
    wrong_password = replace(target, sentinel_password="not-the-password")
    with pytest.raises(SentinelsUnreachable, match="REDIS_SENTINEL_PASSWORD"):
        await RedisProbe(wrong_password, timeout_s=1).ping()


async def test_start_up_refuses_a_wrong_configuration_and_names_redis_url(
    sentinels: SentinelSetup,
) -> None:
    target = sentinels.target
    await require_sentinels(target, timeout_s=3)
    nobody = replace(target, sentinels=(("127.0.0.1", free_port()),))
    started = time.monotonic()
    with pytest.raises(StartupError, match=r"^no sentinel in REDIS_URL answers .*check REDIS_URL$"):
        await require_sentinels(nobody, timeout_s=2)
    assert time.monotonic() - started < 5
    client = get_queue_connection(replace(target, service_name="elsewhere"))
    try:
        with pytest.raises(StartupError, match="know no primary named 'elsewhere'"):
            await require_redis(client, replace(target, service_name="elsewhere"), 2)
    finally:
        await client.aclose()
