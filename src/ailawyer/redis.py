"""Redis connections: one factory, two flavours, and a deadline for requests.

`create_redis_connection()` fails fast (20 retries, for the API and producers);
`max_retries_per_request=None` never gives up (the worker: BullMQ's blocking
connections must survive a broker restart). Between attempts we wait
`max(min(exp(times), 20000), 1000)` ms (docs/configuration.md, "Redis"). No key
prefix is set: BullMQ keeps its own `bull:` prefix and other producers rely on it.

`redis_deadline` bounds the Redis calls an API request makes: with Redis gone,
the request answers 503 within the deadline instead of hanging.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import AbstractBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ailawyer import messages
from ailawyer.config import get_settings
from ailawyer.errors import ServiceUnavailable
from ailawyer.logs import create_logger, redact_text

log = create_logger("redis")

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
            )
        return delay / 1000.0


def create_redis_connection(
    *,
    max_retries_per_request: int | None = FAIL_FAST_RETRIES,
    url: str | None = None,
    name: str = "ailawyer",
) -> Redis:
    """A `redis.asyncio.Redis` (hiredis parser when installed).

    `max_retries_per_request=None` retries forever; an integer bounds the retries
    of one command, after which the library's `ConnectionError` is raised.
    """
    target = url or get_settings().redis_url
    retries = -1 if max_retries_per_request is None else max_retries_per_request
    safe_url = redact_text(target)

    async def on_connect(connection: Connection) -> None:
        await connection.on_connect()
        log.debug("redis.connected", connection=name, url=safe_url)

    return Redis.from_url(
        target,
        retry=Retry(ReconnectBackoff(name, target), retries),
        retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=None if max_retries_per_request is None else FAIL_FAST_SOCKET_TIMEOUT_S,
        socket_keepalive=True,
        health_check_interval=30 if max_retries_per_request is None else 0,
        redis_connect_func=on_connect,
        client_name=name,
        decode_responses=True,  # BullMQ reads str replies from clients it is given
    )


def get_queue_connection(url: str | None = None) -> Redis:
    """For `Queue` instances and other producers: fail fast."""
    return create_redis_connection(url=url, name="ailawyer-queue")


def get_worker_connection(url: str | None = None, *, name: str = "ailawyer-worker") -> Redis:
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
