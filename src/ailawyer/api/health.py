"""Readiness checks that touch their dependency, each under its own timeout.

All checks run at once, so the endpoint costs the slowest check, never their
sum, and a hung dependency costs its timeout. A failure is logged here with its
reason (exception type and text, which may name hosts); the public answer only
says `unhealthy` and how long the check took.

The worker check asks Redis for the BullMQ workers registered on our queues
(CLIENT LIST). Managed Redis services may forbid that command; then, and when
no BullMQ client is listed, the workers' heartbeat keys decide.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal

import httpx
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ailawyer.config import Settings
from ailawyer.db.engine import Database
from ailawyer.logs import create_logger, redact_text
from ailawyer.queues.producer import QueueProducer
from ailawyer.worker.heartbeat import live_workers

log = create_logger("api.health")

Status = Literal["healthy", "unhealthy", "not_configured"]

# BullMQ's stand-in entry when the server does not know CLIENT LIST.
_CLIENT_LIST_UNSUPPORTED: Final = "CLIENT LIST not supported"
# The peers' own liveness endpoints.
PEER_PATHS: Final = {
    "minio": "/minio/health/live",
    "meilisearch": "/health",
    "onlyoffice": "/healthcheck",
}
# What a check may raise when its dependency is away or broken. Anything else is
# a bug in the check and is logged with its traceback (still `unhealthy`).
_EXPECTED: Final = (TimeoutError, RedisError, SQLAlchemyError, httpx.HTTPError, OSError)


@dataclass(frozen=True)
class CheckResult:
    status: Status
    latency_ms: int


@dataclass(frozen=True)
class HealthChecks:
    """What the checks need; built once per app (the lifespan owns these)."""

    settings: Settings
    database: Database
    producer: QueueProducer
    http: httpx.AsyncClient

    @property
    def timeout_s(self) -> float:
        return self.settings.health_check_timeout_ms / 1000

    def _short_lived_redis(self) -> Redis:
        # Not the app's pooled client: a fresh connection proves Redis accepts
        # new clients now, and no retry loop stretches the answer.
        return Redis.from_url(
            self.settings.redis_url,
            socket_connect_timeout=self.timeout_s,
            socket_timeout=self.timeout_s,
            retry_on_timeout=False,
            client_name="ailawyer-health",
        )

    async def postgres(self) -> bool:
        async with self.database.engine.connect() as conn:
            return (await conn.execute(text("SELECT 1"))).scalar() == 1

    async def redis(self) -> bool:
        client = self._short_lived_redis()
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    async def worker(self) -> bool:
        try:
            for queue in self.producer.queues.values():
                workers = await queue.get_workers()
                if any(w.get("name") == _CLIENT_LIST_UNSUPPORTED for w in workers):
                    break
                if workers:
                    return True
        except ResponseError as exc:  # e.g. NOPERM: CLIENT LIST is not ours to call
            log.info("health.client_list_refused", error=redact_text(str(exc)))
        client = self._short_lived_redis()
        try:
            return bool(await live_workers(client))
        finally:
            await client.aclose()

    def peer(self, name: str) -> Callable[[], Awaitable[bool]] | None:
        base = {
            "minio": self.settings.minio_endpoint,
            "meilisearch": self.settings.meilisearch_url,
            "onlyoffice": self.settings.onlyoffice_internal_url,
        }[name]
        if not base:
            return None
        url = base + PEER_PATHS[name]

        async def check() -> bool:
            response = await self.http.get(url, timeout=self.timeout_s)
            if response.is_success:
                return True
            log.warning("health.peer_status", service=name, status=response.status_code)
            return False

        return check

    async def run(self) -> dict[str, CheckResult]:
        checks: dict[str, Callable[[], Awaitable[bool]] | None] = {
            "postgres": self.postgres,
            "redis": self.redis,
            "worker": self.worker,
            **{name: self.peer(name) for name in PEER_PATHS},
        }
        names = list(checks)
        results = await asyncio.gather(*(self._timed(name, checks[name]) for name in names))
        return dict(zip(names, results, strict=True))

    async def _timed(self, name: str, check: Callable[[], Awaitable[bool]] | None) -> CheckResult:
        if check is None:
            return CheckResult("not_configured", 0)
        started = time.perf_counter()
        ok = False
        try:
            async with asyncio.timeout(self.timeout_s):
                ok = await check()
        except _EXPECTED as exc:
            log.warning(
                "health.check_failed",
                service=name,
                error=type(exc).__name__,
                reason=redact_text(str(exc))[:300],
            )
        except Exception:
            log.exception("health.check_crashed", service=name)
        latency = round((time.perf_counter() - started) * 1000)
        return CheckResult("healthy" if ok else "unhealthy", latency)
