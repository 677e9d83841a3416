from __future__ import annotations

import asyncio
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from ailawyer.redis import (
    create_redis_connection,
    get_queue_connection,
    get_worker_connection,
    reconnect_delay_ms,
)
from tests.fixtures.services import RedisServer, free_port


def test_reconnect_curve_is_the_plans() -> None:
    assert [round(reconnect_delay_ms(t)) for t in (0, 1, 6, 7, 8, 9, 10, 50)] == [
        1000,
        1000,
        1000,
        1097,
        2981,
        8103,
        20000,
        20000,
    ]


async def test_fail_fast_connection_to_closed_port_raises_within_bound() -> None:
    client = create_redis_connection(
        max_retries_per_request=2, url=f"redis://127.0.0.1:{free_port()}"
    )
    started = time.monotonic()
    with pytest.raises(RedisConnectionError, match=r"Connection refused|Connect call failed"):
        await client.ping()
    elapsed = time.monotonic() - started
    await client.aclose()
    # two retries at the curve's 1 s floor, plus a little
    assert 1.5 <= elapsed < 5


async def test_default_is_fail_fast_with_twenty_retries() -> None:
    client = get_queue_connection()
    try:
        retry = client.connection_pool.connection_kwargs["retry"]
        assert retry.get_retries() == 20
        assert await client.ping() is True
    finally:
        await client.aclose()


@pytest.mark.slow
async def test_worker_connection_survives_a_redis_restart(redis_server: RedisServer) -> None:
    client = get_worker_connection(redis_server.url)
    try:
        await client.set("k", "before")
        redis_server.stop()
        pending = asyncio.create_task(client.set("k", "during"))
        await asyncio.sleep(2.5)
        assert not pending.done(), "the command gave up during the outage"
        redis_server.start()  # same port
        await asyncio.wait_for(pending, timeout=30)
        assert await client.get("k") == "during"
    finally:
        await client.aclose()
