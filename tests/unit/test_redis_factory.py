"""What the factory builds for each REDIS_URL form, without connecting anywhere:
every client of the product gets our policy, and a Sentinel URL a pool that
follows the primary (TLS included, which python-socketio's own manager lacks)."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.realtime.server import SocketServer
from ailawyer.redis import ReconnectRetry, bounded_pool, create_redis_connection
from ailawyer.redis_target import RedisTarget
from ailawyer.sentinel import (
    BoundedPrimaryPool,
    PrimaryConnection,
    PrimaryPool,
    PrimarySSLConnection,
    SentinelClient,
)

SENTINEL_URL = "redis+sentinel://app:data-pw@s1:26379,s2:26380/2/ailawyer"


def sentinel_kwargs(client: Redis) -> list[dict[str, Any]]:
    pool = client.connection_pool
    assert isinstance(pool, PrimaryPool)
    return [s.connection_pool.connection_kwargs for s in pool.sentinel_manager.sentinels]


async def test_a_sentinel_url_gives_a_client_of_the_primary_with_our_policy() -> None:
    target = RedisTarget.parse(SENTINEL_URL, sentinel_password="watch-pw")
    client = create_redis_connection(max_retries_per_request=None, url=target, name="t-worker")
    try:
        assert isinstance(client, SentinelClient)
        pool = client.connection_pool
        assert isinstance(pool, PrimaryPool)
        assert (pool.service_name, pool.is_master) == ("ailawyer", True)
        assert pool.connection_class is PrimaryConnection
        kwargs = pool.connection_kwargs
        assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("app", "data-pw", 2)
        assert kwargs["client_name"] == "t-worker"
        assert kwargs["decode_responses"] is True
        assert kwargs["socket_timeout"] is None  # never gives up: blocking waits are fine
        assert isinstance(kwargs["retry"], ReconnectRetry)
        assert kwargs["retry"].get_retries() == -1
        # The sentinels get their own password, no retries, short timeouts.
        hosts = [(s["host"], s["port"]) for s in sentinel_kwargs(client)]
        assert hosts == [("s1", 26379), ("s2", 26380)]
        for sentinel in sentinel_kwargs(client):
            assert sentinel["password"] == "watch-pw"
            assert sentinel["retry"].get_retries() == 0
            assert sentinel["socket_connect_timeout"] <= 2
    finally:
        await client.aclose()


async def test_rediss_sentinel_is_tls_to_sentinels_and_data_nodes() -> None:
    client = create_redis_connection(url="rediss+sentinel://:pw@s1:26379/0/ailawyer")
    try:
        assert client.connection_pool.connection_class is PrimarySSLConnection
        assert all("ssl_cert_reqs" in kwargs for kwargs in sentinel_kwargs(client))
        assert client.connection_pool.connection_kwargs["retry"].get_retries() == 20
    finally:
        await client.aclose()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6390/0", SENTINEL_URL])
async def test_the_bounded_pool_keeps_the_policy_and_follows_the_same_primary(url: str) -> None:
    base = create_redis_connection(max_retries_per_request=None, url=url, name="t-bullmq")
    pool = bounded_pool(base, 4)
    try:
        assert isinstance(pool, BlockingConnectionPool)
        assert pool.max_connections == 4
        assert pool.timeout is None  # more commands wait, never fail
        assert pool.connection_kwargs["client_name"] == "t-bullmq"
        assert pool.connection_class is base.connection_pool.connection_class
        if url == SENTINEL_URL:
            assert isinstance(pool, BoundedPrimaryPool)
            assert pool.sentinel_manager is base.connection_pool.sentinel_manager
            # Its connections ask this pool, not the base one, for the primary.
            assert pool.connection_kwargs["connection_pool"] == pool
    finally:
        await pool.aclose()
        await base.aclose()


async def test_the_emitter_publishes_through_the_factory() -> None:
    emitter = SocketEmitter(RedisTarget.parse(SENTINEL_URL), channel="socketio")
    try:
        emitter.manager._redis_connect()
        redis = emitter.manager.redis
        assert isinstance(redis, SentinelClient)
        kwargs = redis.connection_pool.connection_kwargs
        assert kwargs["client_name"] == "ailawyer-emitter"
        assert kwargs["decode_responses"] is False  # python-socketio's payloads
        assert kwargs["socket_timeout"] == 2.0
        # Reconnecting after an error keeps the one client.
        emitter.manager.connected = False
        emitter.manager._redis_connect()
        assert emitter.manager.redis is redis
    finally:
        await emitter.close()


async def test_the_socketio_manager_subscribes_through_the_factory() -> None:
    async def nobody(*_: Any) -> Any:
        return None

    server = SocketServer(
        redis_url=RedisTarget.parse("rediss+sentinel://:pw@s1:26379/0/ailawyer"),
        authenticate=nobody,
        can_join_akte=nobody,
        check_sessions=nobody,
        channel="socketio",
    )
    manager = server.sio.manager
    try:
        manager._redis_connect()
        redis = manager.redis
        assert isinstance(redis, SentinelClient)
        assert redis.connection_pool.connection_class is PrimarySSLConnection
        kwargs = redis.connection_pool.connection_kwargs
        assert kwargs["client_name"] == "ailawyer-socketio"
        assert kwargs["decode_responses"] is False  # the library compares bytes
        assert kwargs["retry"].get_retries() == -1  # a subscription never gives up
        assert kwargs["health_check_interval"] == 30
    finally:
        await server.close()
