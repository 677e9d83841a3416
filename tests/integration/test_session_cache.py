"""The session cache and the subscription it trusts, against a real Redis that
goes away and comes back (a private redis-server, stopped and started again)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from ailawyer.db.base import utcnow
from ailawyer.pubsub import Subscription
from ailawyer.redis import create_redis_connection
from ailawyer.services.auth import Authenticated, AuthUser, SessionInfo
from ailawyer.services.session_cache import SessionCache
from tests.fixtures.services import RedisServer
from tests.fixtures.waiting import eventually

CHANNEL = "ailawyer:sessions:test"


def _found(session_id: str, *, expires_in_s: float = 3600) -> Authenticated:
    return Authenticated(
        user=AuthUser(id="u1", email="a@kanzlei.test", name="A", role="ANWALT"),
        session=SessionInfo(id=session_id, expires_at=utcnow() + timedelta(seconds=expires_in_s)),
        token="t",
    )


@contextlib.asynccontextmanager
async def _following(server: RedisServer) -> AsyncIterator[tuple[Subscription, SessionCache]]:
    """A subscription to the sessions channel and a cache that trusts it, as the app wires them."""
    redis = create_redis_connection(max_retries_per_request=None, url=server.url, name="t")
    cache: SessionCache | None = None

    async def ended(raw: bytes | str) -> None:
        assert cache is not None
        cache.forget([raw.decode() if isinstance(raw, bytes) else raw])

    subscription = Subscription(redis, {CHANNEL: ended})
    cache = SessionCache(ttl_s=10, max_entries=100, epoch=subscription.live_epoch)
    task = asyncio.create_task(subscription.run())
    try:
        async with asyncio.timeout(5):
            await subscription.subscribed.wait()
        yield subscription, cache
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await redis.aclose()


async def test_an_announced_end_is_forgotten(redis_server: RedisServer) -> None:
    async with _following(redis_server) as (_, cache):
        cache.put(_found("s1"), cache.generation())
        cache.put(_found("s2"), cache.generation())
        assert cache.get("s1") is not None
        publisher = create_redis_connection(url=redis_server.url)
        try:
            await publisher.publish(CHANNEL, "s1")
        finally:
            await publisher.aclose()
        await eventually(lambda: cache.get("s1") is None, timeout=2)
        assert cache.get("s2") is not None


async def test_nothing_is_served_while_redis_is_away_nor_after_it_is_back(
    redis_server: RedisServer,
) -> None:
    async with _following(redis_server) as (subscription, cache):
        cache.put(_found("s1"), cache.generation())
        assert cache.get("s1") is not None
        first_epoch = subscription.live_epoch()
        assert first_epoch is not None

        await asyncio.to_thread(redis_server.stop)
        # The connection's loss is noticed at once: no answers from memory, no new entries.
        await eventually(lambda: subscription.live_epoch() is None, timeout=2)
        assert cache.get("s1") is None
        cache.put(_found("s2"), cache.generation())
        assert len(cache) == 0

        await asyncio.to_thread(redis_server.start)
        await eventually(lambda: subscription.live_epoch() is not None, timeout=15)
        assert subscription.live_epoch() != first_epoch
        # Stored again under the new subscription: trusted again.
        cache.put(_found("s3"), cache.generation())
        assert cache.get("s3") is not None


async def test_an_entry_stored_before_a_reconnect_is_void(redis_server: RedisServer) -> None:
    async with _following(redis_server) as (subscription, cache):
        cache.put(_found("s1"), cache.generation())
        first_epoch = subscription.live_epoch()
        # A restart quick enough that no request came in between.
        await asyncio.to_thread(redis_server.stop)
        await asyncio.to_thread(redis_server.start)
        await eventually(lambda: subscription.live_epoch() not in (None, first_epoch), timeout=15)
        assert cache.get("s1") is None


async def test_a_lookup_overtaken_by_an_invalidation_is_not_stored(
    redis_server: RedisServer,
) -> None:
    async with _following(redis_server) as (_, cache):
        generation = cache.generation()  # a database lookup starts ...
        cache.forget(["s1"])  # ... the session's end arrives meanwhile ...
        cache.put(_found("s1"), generation)  # ... and its answer comes back
        assert cache.get("s1") is None


@pytest.mark.parametrize("ttl_s", [0.0, 10.0])
async def test_entries_end_with_the_ttl_or_the_session(
    redis_server: RedisServer, ttl_s: float
) -> None:
    async with _following(redis_server) as (subscription, _):
        cache = SessionCache(ttl_s=ttl_s, max_entries=2, epoch=subscription.live_epoch)
        cache.put(_found("expired", expires_in_s=-1), cache.generation())
        assert cache.get("expired") is None
        for sid in ("a", "b", "c"):
            cache.put(_found(sid), cache.generation())
        if ttl_s == 0:
            assert len(cache) == 0
        else:
            assert len(cache) == 2  # bounded: the oldest went
            assert cache.get("a") is None
            assert cache.get("c") is not None
