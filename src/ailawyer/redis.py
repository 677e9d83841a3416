"""Redis connections: one factory, two flavours, and a deadline for requests.

Every Redis client of the product comes from `create_redis_connection()`: the
producer, the BullMQ workers, the Socket.IO manager and emitter, the control
channels, the login limiter, the heartbeats, `worker --check`. It fails fast by
default (20 retries, for the API and producers); `max_retries_per_request=None`
never gives up (the worker: BullMQ's blocking connections must survive a broker
restart). Between attempts we wait `max(min(exp(times), 20000), 1000)` ms
(docs/configuration.md, "Redis"), and say so in the log with the URL redacted.
No key prefix is set: BullMQ keeps its own `bull:` prefix and other producers
rely on it.

REDIS_URL names one server or, as `redis+sentinel://`, the sentinels of a
primary (`ailawyer.redis_target`); either way the caller gets a `Redis` with
the same policy, and a Sentinel one follows the primary through a failover
(`ailawyer.sentinel`). What asks "does it answer?" without a client (health
check, start-up, `ailawyer dev`) is `ailawyer.redis_checks`.

`redis_deadline` bounds the Redis calls an API request makes: with Redis gone,
the request answers 503 within the deadline instead of hanging.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.backoff import AbstractBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ailawyer import messages
from ailawyer.config import get_settings
from ailawyer.errors import ServiceUnavailable
from ailawyer.logs import create_logger, redact_text
from ailawyer.redis_target import RedisTarget, as_target
from ailawyer.sentinel import bounded_primary_pool, primary_client

log = create_logger("redis")

T = TypeVar("T")

FAIL_FAST_RETRIES = 20
CONNECT_TIMEOUT_S = 5.0
# The fail-fast client must not wait forever on a hung server; the worker's
# client may (its blocking commands wait by design).
FAIL_FAST_SOCKET_TIMEOUT_S = 10.0


def reconnect_delay_ms(times: int) -> float:
    """1 s for the first attempts, growing to at most 20 s."""
    return max(min(math.exp(times), 20_000.0), 1_000.0)


class ReconnectBackoff(AbstractBackoff):
    """Logs every reconnect attempt (throttled) and waits per `reconnect_delay_ms`."""

    def __init__(self, name: str, url: str) -> None:
        self._name = name
        self._url = redact_text(url)
        self._last_log = 0.0
        # What made the last attempt fail (set by `ReconnectRetry`), for the log.
        self.last_error: str | None = None

    def compute(self, failures: int) -> float:
        delay = reconnect_delay_ms(failures)
        now = time.monotonic()
        if failures <= 1 or now - self._last_log >= 10:
            self._last_log = now
            log.warning(
                "redis.reconnecting",
                connection=self._name,
                url=self._url,
                attempt=failures,
                delay_ms=round(delay),
                error=self.last_error,
            )
        return delay / 1000.0


class ReconnectRetry(Retry):
    """redis-py's retry loop, telling its backoff what failed (for the log line)."""

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        backoff = self._backoff

        async def noted(error: Exception, *count: int) -> Any:
            if isinstance(backoff, ReconnectBackoff):
                backoff.last_error = type(error).__name__
            outcome = fail(error, *count)
            return await outcome if inspect.isawaitable(outcome) else outcome

        return await super().call_with_retry(do, noted, is_retryable, with_failure_count)


def create_redis_connection(
    *,
    max_retries_per_request: int | None = FAIL_FAST_RETRIES,
    url: str | RedisTarget | None = None,
    name: str = "ailawyer",
    decode_responses: bool = True,
    timeout_s: float | None = None,
) -> Redis:
    """A `redis.asyncio.Redis` (hiredis parser when installed).

    `max_retries_per_request=None` retries forever; an integer bounds the retries
    of one command, after which the library's `ConnectionError` is raised.
    `url` is REDIS_URL's target (`Settings.redis`, which carries the sentinels'
    password) or a URL string; unset, the settings' own. For a Sentinel URL the
    client follows the primary through a failover (`ailawyer.sentinel`).
    `decode_responses=False` for python-socketio, which compares bytes; BullMQ
    needs `True`. `timeout_s` bounds connecting and each reply (default: 5 s to
    connect; replies 10 s when failing fast, unbounded when never giving up).
    """
    target = get_settings().redis if url is None else as_target(url)
    never_give_up = max_retries_per_request is None
    retries = -1 if max_retries_per_request is None else max_retries_per_request
    safe_url = target.display

    async def on_connect(connection: Connection) -> None:
        await connection.on_connect()
        if target.is_sentinel:
            primary = f"{connection.host}:{connection.port}"
            log.debug("redis.connected", connection=name, url=safe_url, primary=primary)
        else:
            log.debug("redis.connected", connection=name, url=safe_url)

    if timeout_s is not None:
        socket_timeout: float | None = timeout_s
    else:
        socket_timeout = None if never_give_up else FAIL_FAST_SOCKET_TIMEOUT_S
    options: dict[str, Any] = {
        "retry": ReconnectRetry(ReconnectBackoff(name, safe_url), retries),
        # MasterNotFoundError (no primary known during a failover) is a ConnectionError.
        "retry_on_error": [RedisConnectionError, RedisTimeoutError, OSError],
        "socket_connect_timeout": CONNECT_TIMEOUT_S if timeout_s is None else timeout_s,
        "socket_timeout": socket_timeout,
        "socket_keepalive": True,
        "health_check_interval": 30 if never_give_up else 0,
        "redis_connect_func": on_connect,
        "client_name": name,
        "decode_responses": decode_responses,
    }
    if target.is_sentinel:
        return primary_client(target, name=name, **options)
    return Redis.from_url(target.url, **options)


def bounded_pool(client: Redis, max_connections: int) -> ConnectionPool:
    """A pool of at most `max_connections` with `client`'s settings (retry policy,
    name, timeouts), on the same server or following the same primary; more
    callers wait for a free connection, forever. Closing `client` closes what
    the pool shares with it (a Sentinel), so `client` must outlive the pool."""
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        return bounded_primary_pool(pool, max_connections)
    return BlockingConnectionPool(
        max_connections=max_connections,
        timeout=None,
        connection_class=pool.connection_class,
        **pool.connection_kwargs,
    )


def get_queue_connection(url: str | RedisTarget | None = None) -> Redis:
    """For `Queue` instances and other producers: fail fast."""
    return create_redis_connection(url=url, name="ailawyer-queue")


def get_worker_connection(
    url: str | RedisTarget | None = None, *, name: str = "ailawyer-worker"
) -> Redis:
    """A client that never gives up on a request: the worker's heartbeat and the
    settings subscriptions. (A BullMQ `Worker` gets `worker.bullmq_connection`'s
    client, built from this one's settings.)"""
    return create_redis_connection(max_retries_per_request=None, url=url, name=name)


@asynccontextmanager
async def redis_deadline(timeout_s: float) -> AsyncIterator[None]:
    """Redis calls inside answer within `timeout_s` or raise ServiceUnavailable."""
    try:
        async with asyncio.timeout(timeout_s):
            yield
    except (RedisError, OSError, TimeoutError) as exc:
        log.error("redis.unavailable", error=type(exc).__name__)
        raise ServiceUnavailable(messages.SERVICE_UNAVAILABLE) from exc
