"""Clients that follow the Redis primary through a Sentinel failover.

redis-py's `SentinelConnectionPool` asks the sentinels for the primary's address
whenever it opens a connection, and a connection to a primary that was demoted
(`READONLY`) is dropped and opened again. That is not enough: after a failover
the old primary, if it still runs, stays a primary until the sentinels get
round to demoting it (about ten seconds after `SENTINEL FAILOVER`), and every
connection still open to it goes on writing there: jobs, completions and
published events that are thrown away when it is demoted. A subscription or
a blocking wait never opens a new connection, so it would not notice at all.
Also, redis-py reconnects a dropped connection that is not checked out anew (a
single-connection client's, a subscription's, a retried command's) to the
address it had, bypassing the Sentinel lookup: `PrimaryConnection` asks again.

We add to it:

- `PrimaryPool` asks the sentinels once a second while it holds connections
  (the watch, started with its first connection, stopped by `aclose`), and when
  the primary changed it closes every connection to another address, in use or
  not: commands in flight fail and are retried by the retry policy on a new
  connection to the new primary; a subscription reconnects and subscribes again.
  It logs the change (`redis.primary_changed`, old and new address): with the
  reconnect lines of the retry policy, this is how a failover reads in the logs
  (docs/operations.md);
- `BoundedPrimaryPool`, the same with a bound on its connections (more callers
  wait), for the BullMQ worker's command pool (`worker/bullmq_connection.py`);
- `SentinelClient` owns its `Sentinel` and closes the sentinels' connections
  with its own. One `Sentinel` per client keeps every client's lifetime its own
  owner's business (the app, the worker, a test's event loop); it costs a
  connection or two to the first sentinel that answers, asked when a connection
  opens and by the watch.

Sentinels are asked without retries and with short timeouts: a sentinel that
does not answer is skipped for the next one in REDIS_URL's list, and the data
connection's own retry policy (`ailawyer.redis`) decides how long to go on.
"""

from __future__ import annotations

import asyncio
import contextlib
from itertools import chain
from typing import Any, Final

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import SSLConnection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
)
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ailawyer.logs import create_logger
from ailawyer.redis_target import RedisTarget

log = create_logger("redis")

# A sentinel is one short command; one that does not answer within this is skipped.
SENTINEL_TIMEOUT_S: Final = 2.0
# How often a pool with connections asks whether the primary moved.
WATCH_INTERVAL_S: Final = 1.0


def sentinel_options(target: RedisTarget, *, name: str, timeout_s: float) -> dict[str, Any]:
    """How to reach a sentinel: its password (REDIS_SENTINEL_PASSWORD), TLS for
    `rediss+sentinel://`, no retries."""
    return {
        "password": target.sentinel_password,
        "ssl": target.tls,
        "socket_connect_timeout": timeout_s,
        "socket_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 0),
        "client_name": name,
    }


def data_node_options(target: RedisTarget) -> dict[str, Any]:
    """How to log in to the primary once found: the URL's credentials and db."""
    return {
        "username": target.username,
        "password": target.password,
        "db": target.db,
        "ssl": target.tls,
    }


class PrimaryConnection(SentinelManagedConnection):
    """A Sentinel-managed connection that asks for the primary on every reconnect.

    The library's `connect()` asks the pool for the primary's address before each
    attempt, but its own reconnect inside `send_packed_command` calls
    `connect_check_health` directly: that went back to the old address, and with
    a retry policy that never gives up it kept knocking at a killed primary
    forever. Here every reconnect goes through `connect()`.
    """

    _address_fresh = False

    async def connect_to(self, address: Any) -> None:
        self._address_fresh = True
        try:
            await super().connect_to(address)  # type: ignore[no-untyped-call]
        finally:
            self._address_fresh = False

    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if self._address_fresh or not self.connection_pool.is_master:
            await super().connect_check_health(
                check_health=check_health, retry_socket_connect=retry_socket_connect
            )
        elif not self.is_connected:
            await self.connect()  # type: ignore[no-untyped-call]


class PrimarySSLConnection(PrimaryConnection, SSLConnection):
    """`PrimaryConnection` over TLS (`rediss+sentinel://`)."""


class PrimaryPool(SentinelConnectionPool):
    """redis-py's Sentinel pool that leaves a replaced primary at once, and says so."""

    watch_interval_s: float = WATCH_INTERVAL_S

    def __init__(
        self,
        service_name: str,
        sentinel_manager: Sentinel,
        *,
        connection_name: str = "ailawyer",
        **kwargs: Any,
    ) -> None:
        super().__init__(service_name, sentinel_manager, **kwargs)  # type: ignore[no-untyped-call]
        self.connection_name = connection_name
        self._watch: asyncio.Task[None] | None = None

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if self._watch is None:
            self._watch = asyncio.create_task(self._watch_primary(), name="redis-primary-watch")
        return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]

    async def get_master_address(self) -> Any:
        # As the library's, with no await between the comparison and the update
        # (concurrent connects log one change once), and leaving the old primary
        # on every connection, not only the idle ones.
        address = await self.sentinel_manager.discover_master(self.service_name)
        if self.is_master and self.master_address != address:
            previous, self.master_address = self.master_address, address
            if previous is None:
                # At start, once per pool: `redis.sentinels_answer` says it once.
                log.debug(
                    "redis.primary_found",
                    connection=self.connection_name,
                    master=self.service_name,
                    primary=_address(address),
                )
            else:
                log.warning(
                    "redis.primary_changed",
                    connection=self.connection_name,
                    master=self.service_name,
                    primary=_address(address),
                    previous=_address(previous),
                )
            await self._leave_all_but(address)
        return address

    async def _leave_all_but(self, address: Any) -> None:
        host, port = address[0], int(address[1])
        stale = [
            connection
            for connection in chain(self._available_connections, self._in_use_connections)
            if connection.is_connected
            and (getattr(connection, "host", None), int(getattr(connection, "port", 0)))
            != (host, port)
        ]
        # nowait: a task may be reading on the connection; it gets a ConnectionError.
        await asyncio.gather(
            *(connection.disconnect(nowait=True) for connection in stale), return_exceptions=True
        )

    async def _watch_primary(self) -> None:
        while True:
            await asyncio.sleep(self.watch_interval_s)
            if not any(
                connection.is_connected
                for connection in chain(self._available_connections, self._in_use_connections)
            ):
                continue  # a new connection asks the sentinels anyway
            try:
                await self.get_master_address()
            except (RedisError, OSError, TimeoutError):
                # No primary known (a failover under way), or no sentinel answers:
                # the connections find out by themselves and retry.
                pass
            except Exception:
                log.exception("redis.primary_watch_failed", connection=self.connection_name)

    async def aclose(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        await super().aclose()


class BoundedPrimaryPool(PrimaryPool, BlockingConnectionPool):
    """A `PrimaryPool` of at most `max_connections`; more callers wait for one."""


class SentinelClient(Redis):
    """A client on a `PrimaryPool` that closes its `Sentinel` when it is closed."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


def primary_client(target: RedisTarget, *, name: str, **options: Any) -> SentinelClient:
    """A client of the current primary of `target.service_name`."""
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels),
        sentinel_kwargs=sentinel_options(target, name=name, timeout_s=SENTINEL_TIMEOUT_S),
    )
    pool = PrimaryPool(
        target.service_name,
        sentinel,
        connection_name=name,
        is_master=True,
        connection_class=PrimarySSLConnection if target.tls else PrimaryConnection,
        **data_node_options(target),
        **options,
    )
    client = SentinelClient(connection_pool=pool)
    client.auto_close_connection_pool = True  # the client owns its pool, as from_pool's
    return client


def bounded_primary_pool(pool: SentinelConnectionPool, max_connections: int) -> BoundedPrimaryPool:
    """A bounded pool with `pool`'s settings that follows the same primary through
    the same `Sentinel` (whose owner stays `pool`'s client)."""
    kwargs = dict(pool.connection_kwargs)
    kwargs.pop("connection_pool", None)  # the library points each pool's connections at it
    return BoundedPrimaryPool(
        pool.service_name,
        pool.sentinel_manager,
        connection_name=getattr(pool, "connection_name", "ailawyer"),
        is_master=pool.is_master,
        check_connection=pool.check_connection,
        connection_class=pool.connection_class,
        max_connections=max_connections,
        timeout=None,
        **kwargs,
    )


def _address(address: Any) -> str:
    host, port = address
    return f"{host}:{port}"
