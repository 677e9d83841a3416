"""Does Redis answer? Asked without a client: health checks, start-up, `ailawyer dev`.

A probe opens bare connections (no pool, no retry loop, no CLIENT SETINFO), so its
answer is about now: the server accepts new clients (connect, authenticate,
select) and answers PING. With a Sentinel REDIS_URL it first asks the sentinels
for the primary's address, one bare connection each, in the URL's order starting
with the one that answered last, and then PINGs that primary.

The errors say what is wrong in one sentence naming REDIS_URL (or
REDIS_SENTINEL_PASSWORD), with the addresses concerned: for start-up messages
and logs. The public health answer never shows them (`api.health`).

At start-up a Sentinel URL is a promise that needs checking: a list of sentinels
none of which answers, or a master name they do not know, is a configuration
error that must stop the process (`require_sentinels`), whereas a known primary
that is briefly down (a failover) is waited for as any Redis outage is.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

from ailawyer.errors import StartupError
from ailawyer.logs import create_logger
from ailawyer.redis_target import RedisTarget

log = create_logger("redis")

STARTUP_TIMEOUT_S: Final = 5.0
_RETRY_PAUSE_S: Final = 0.5


class SentinelsUnreachable(RedisConnectionError):
    """No sentinel of REDIS_URL answered."""


class PrimaryUnknown(RedisConnectionError):
    """The sentinels answered, but none knows the URL's master name."""


class RedisProbe:
    """PING on a fresh connection; with Sentinel, ask the sentinels first."""

    def __init__(self, target: RedisTarget, *, timeout_s: float, name: str = "ailawyer-probe"):
        self.target = target
        self._first_sentinel = 0
        common: dict[str, Any] = {
            "socket_connect_timeout": timeout_s,
            "socket_timeout": timeout_s,
            "client_name": name,
            "driver_info": None,  # no CLIENT SETINFO round trip for a one-command connection
        }
        self._node_class: type[Connection] = SSLConnection if target.tls else Connection
        self._plain_class: type[AbstractConnection] = Connection
        if target.is_sentinel:
            self._kwargs: dict[str, Any] = {
                **common,
                "username": target.username,
                "password": target.password,
                "db": target.db,
            }
            self._sentinel_kwargs: dict[str, Any] = {
                **common,
                "password": target.sentinel_password,
            }
        else:
            # The URL is parsed once (host, port, TLS, credentials, database); the
            # pool itself never opens a connection.
            template = ConnectionPool.from_url(target.url, retry_on_timeout=False, **common)
            self._plain_class = template.connection_class
            self._kwargs = dict(template.connection_kwargs)

    async def ping(self) -> bool:
        connection: AbstractConnection
        if self.target.is_sentinel:
            host, port = await self.primary_address()
            connection = self._node_class(host=host, port=port, **self._kwargs)
        else:
            connection = self._plain_class(**self._kwargs)
        reply = await _command(connection, "PING")
        return reply in (b"PONG", "PONG")

    async def primary_address(self) -> tuple[str, int]:
        """The primary's address as a sentinel names it.

        Raises `SentinelsUnreachable` when no sentinel answers and `PrimaryUnknown`
        when those that answer do not know the master name.
        """
        target = self.target
        sentinels = target.sentinels
        failures: list[str] = []
        answered = False
        for step in range(len(sentinels)):
            index = (self._first_sentinel + step) % len(sentinels)
            host, port = sentinels[index]
            connection = self._node_class(host=host, port=port, **self._sentinel_kwargs)
            try:
                reply = await _command(
                    connection, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", target.service_name
                )
            except (RedisError, OSError, TimeoutError) as exc:
                failures.append(f"{host}:{port} {_reason(exc)}")
                continue
            answered = True
            self._first_sentinel = index
            if reply:
                primary_host, primary_port = reply
                return _text(primary_host), int(primary_port)
        if answered:
            raise PrimaryUnknown(
                f"the sentinels in REDIS_URL ({target.sentinel_list}) know no primary "
                f"named {target.service_name!r}"
            )
        raise SentinelsUnreachable(
            f"no sentinel in REDIS_URL answers ({'; '.join(failures) or 'none listed'})"
        )


async def require_sentinels(target: RedisTarget, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Raise StartupError unless a sentinel of REDIS_URL names its primary within
    `timeout_s` (a plain URL passes: there is nothing to find)."""
    if not target.is_sentinel:
        return
    probe = RedisProbe(target, timeout_s=min(2.0, timeout_s), name="ailawyer-start")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            host, port = await probe.primary_address()
        except (SentinelsUnreachable, PrimaryUnknown) as exc:
            if loop.time() + _RETRY_PAUSE_S >= deadline:
                raise StartupError(f"{exc}; check REDIS_URL") from None
            await asyncio.sleep(_RETRY_PAUSE_S)
        else:
            log.info("redis.sentinels_answer", master=target.service_name, primary=f"{host}:{port}")
            return


async def require_redis(client: Redis, target: RedisTarget, timeout_s: float) -> None:
    """Raise StartupError, one line naming REDIS_URL, unless `client` can PING."""
    await require_sentinels(target, timeout_s)
    try:
        async with asyncio.timeout(timeout_s):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        if target.is_sentinel:
            raise StartupError(
                f"the primary {target.service_name!r} that the sentinels in REDIS_URL "
                f"({target.sentinel_list}) name does not answer ({type(exc).__name__})"
            ) from None
        raise StartupError(
            f"Redis at {target.display} does not answer ({type(exc).__name__}). Start one "
            "(`redis-server`, or `docker compose up -d redis`) or set REDIS_URL."
        ) from None


async def _command(connection: AbstractConnection, *args: Any) -> Any:
    try:
        await connection.connect()  # type: ignore[no-untyped-call]
        await connection.send_command(*args)
        return await connection.read_response()
    finally:
        await connection.disconnect()


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, AuthenticationError) or (
        isinstance(exc, ResponseError) and text.startswith(("NOAUTH", "WRONGPASS"))
    ):
        return "refuses the sentinel password (REDIS_SENTINEL_PASSWORD)"
    return type(exc).__name__


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
