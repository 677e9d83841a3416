"""Readiness checks that touch their dependency, each under its own timeout.

All checks run at once, so the endpoint costs the slowest check, never their
sum, and a hung dependency costs its timeout — not also the time it takes to
give up on it (see `_within_timeout`). A failure is logged here with its
reason (exception type and text, which may name hosts); the public answer only
says `unhealthy` and how long the check took.

The worker check asks Redis for the BullMQ workers registered on our queues
(CLIENT LIST). That list covers the whole server, so a client counts only when
both its name (prefix and queue) and its database are this deployment's.
Managed Redis services may forbid the command; then, and when no BullMQ client
is listed, the workers' heartbeats (`ailawyer.presence`) decide.

Cost per request, because probes and load balancers call this endpoint often:

- CLIENT LIST is searched as raw bytes for our workers' client names (BullMQ's
  `get_workers` parses every client of the server into a dict, which was a
  fifth of the endpoint's CPU time on a busy Redis).
- A worker seen alive is believed for `WORKER_SEEN_TTL_S` (1 s) in this
  process; the worker's own heartbeat is refreshed far less often, so a dead
  worker is reported at most that much later. "No worker" is never cached: the
  next request asks again, so a worker that comes back is seen at once.
- The Redis check opens one bare connection (no client object, no pool) from
  settings resolved once, and skips CLIENT SETINFO: redis-py would otherwise
  build a pool per check and read its own package metadata for every new
  connection (`redis_checks.RedisProbe`). With a Sentinel REDIS_URL it asks a
  sentinel for the primary first (one more bare connection, to the sentinel
  that answered last) and PINGs that primary: `healthy` while a primary answers.
  The public answer never names the primary or the sentinels.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal

import httpx
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.exc import SQLAlchemyError

from ailawyer.config import Settings
from ailawyer.db.engine import Database
from ailawyer.logs import create_logger, redact_text
from ailawyer.presence import live_workers
from ailawyer.queues.client_names import node_client_name
from ailawyer.queues.producer import QueueProducer
from ailawyer.redis_checks import RedisProbe

log = create_logger("api.health")

Status = Literal["healthy", "unhealthy", "not_configured"]

# How long a worker seen alive is believed without asking Redis again.
WORKER_SEEN_TTL_S: Final = 1.0
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


def listed_in_db(clients: bytes, names: tuple[bytes, ...], db: int) -> bool:
    """Whether a CLIENT LIST line carries one of `names` and sits in database `db`.

    Lines are one client each; `db=` is a field of every line, between spaces.
    """
    db_field = b" db=%d " % db
    for name in names:
        start = clients.find(name)
        while start != -1:
            line_start = clients.rfind(b"\n", 0, start) + 1
            line_end = clients.find(b"\n", start)
            line = clients[line_start : line_end if line_end != -1 else len(clients)]
            if db_field in line:
                return True
            start = clients.find(name, start + 1)
    return False


def worker_client_names(producer: QueueProducer) -> tuple[bytes, ...]:
    """What a BullMQ worker of one of our queues looks like in CLIENT LIST: its
    connection name is the queue's qualified name, alone or followed by
    `:w:{worker name}` (the `get_workers` matchers). Ours name their connections
    Node BullMQ's way, `{prefix}:{base64(queue)}` (`queues.client_names`); the
    Python port's own `{prefix}:{queue}` is matched too (a worker of an older
    release during a rolling update). Fields are separated by single spaces and
    names cannot contain one."""
    names: list[bytes] = []
    for name, queue in producer.queues.items():
        for qualified in (
            node_client_name(producer.prefix, name).encode(),
            queue.backend.clientName().encode(),
        ):
            names += [b" name=" + qualified + b" ", b" name=" + qualified + b":w:"]
    return tuple(names)


class HealthChecks:
    """What the checks need; built once per app (the lifespan owns these)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        producer: QueueProducer,
        http: httpx.AsyncClient,
    ) -> None:
        self.settings = settings
        self.database = database
        self.producer = producer
        self.http = http
        self.timeout_s = settings.health_check_timeout_ms / 1000
        self.deployment = settings.deployment
        self._worker_names = worker_client_names(producer)
        self._worker_seen_at: float | None = None
        # Checks cancelled at their timeout that are still cleaning up.
        self._abandoned: set[asyncio.Future[bool]] = set()
        self._redis_probe = RedisProbe(
            settings.redis, timeout_s=self.timeout_s, name="ailawyer-health"
        )

    async def postgres(self) -> bool:
        async with self.database.reader() as conn:
            return (await conn.exec_driver_sql("SELECT 1")).scalar() == 1

    async def redis(self) -> bool:
        # Not the app's pooled client: a fresh connection proves Redis accepts
        # new clients now (connect, authenticate, select), and no retry loop
        # stretches the answer.
        return await self._redis_probe.ping()

    async def worker(self) -> bool:
        seen = self._worker_seen_at
        if seen is not None and time.monotonic() - seen < WORKER_SEEN_TTL_S:
            return True
        self._worker_seen_at = None
        alive = await self._worker_alive()
        if alive:
            self._worker_seen_at = time.monotonic()
        return alive

    async def _worker_alive(self) -> bool:
        redis = self.producer.connection
        try:
            clients = await redis.execute_command(  # type: ignore[no-untyped-call]
                "CLIENT", "LIST", NEVER_DECODE=True
            )
        except ResponseError as exc:  # NOPERM, or a server without CLIENT LIST
            log.info("health.client_list_refused", error=redact_text(str(exc)))
        else:
            # `name` is never a line's first field, so " name=" always matches.
            listed = clients if isinstance(clients, bytes) else str(clients).encode()
            if listed_in_db(listed, self._worker_names, self.deployment.db):
                return True
        return bool(await live_workers(redis, self.deployment))

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
            ok = await self._within_timeout(check)
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

    async def _within_timeout(self, check: Callable[[], Awaitable[bool]]) -> bool:
        """`check()`, or TimeoutError after `timeout_s`, without waiting for the
        cancelled check to clean up.

        Cleaning up after a hung dependency can take as long again: SQLAlchemy
        closes a cancelled asyncpg connection gracefully, shielded, for up to
        2 s, and `asyncio.timeout` would wait for that. The cancelled check is
        left to finish in the background (`_abandoned` keeps it referenced).
        """
        task = asyncio.ensure_future(check())
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout_s)
        finally:
            if not task.done():
                task.cancel()
                self._abandoned.add(task)
                task.add_done_callback(self._forget)
        if not done:
            raise TimeoutError
        return task.result()

    def _forget(self, task: asyncio.Future[bool]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("health.abandoned_check_failed", error=type(task.exception()).__name__)
