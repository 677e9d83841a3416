"""What runs where: the app's version, the workers' (from their heartbeats), and
the Redis and database servers' own versions, for the admin system page.

Each server is asked under the health checks' timeout; one that does not
answer is reported as `None` ("unbekannt" on the page), never as an error of
the whole answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from ailawyer.db.engine import Database
from ailawyer.deployment import Deployment
from ailawyer.logs import create_logger
from ailawyer.presence import live_workers

log = create_logger("api.system_info")


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    version: str | None
    pid: int | None
    queues: list[str]
    seen_at: float | None


@dataclass(frozen=True)
class ServerInfo:
    name: str
    version: str | None


async def redis_server(redis: Redis, timeout_s: float) -> ServerInfo:
    """`INFO server`: Valkey names itself (`server_name`), Redis does not."""
    try:
        async with asyncio.timeout(timeout_s):
            info: dict[str, Any] = await redis.info("server")
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("system.redis_info_failed", error=type(exc).__name__)
        return ServerInfo("Redis", None)
    if info.get("server_name") == "valkey" and info.get("valkey_version"):
        return ServerInfo("Valkey", str(info["valkey_version"]))
    found = info.get("redis_version")
    return ServerInfo("Redis", str(found) if found is not None else None)


async def database_server(database: Database, timeout_s: float) -> ServerInfo:
    dialect = database.engine.dialect.name
    name, query = (
        ("SQLite", "SELECT sqlite_version()")
        if dialect == "sqlite"
        else ("PostgreSQL", "SHOW server_version")
    )
    try:
        async with asyncio.timeout(timeout_s):
            async with database.reader() as conn:
                found = (await conn.exec_driver_sql(query)).scalar()
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        log.warning("system.database_info_failed", error=type(exc).__name__)
        return ServerInfo(name, None)
    return ServerInfo(name, str(found) if found is not None else None)


def _queue_names(queues: Any) -> list[str]:
    """The queues of a heartbeat record: `{"name", "concurrency", "inFlight"}` each
    (`presence`), or plain names in the records of older workers."""
    if not isinstance(queues, list):
        return []
    names = (q.get("name") if isinstance(q, dict) else q for q in queues)
    return [name for name in names if isinstance(name, str)]


async def workers(
    redis: Redis, deployment: Deployment, timeout_s: float
) -> list[WorkerInfo] | None:
    """The workers with a fresh heartbeat (None: Redis did not answer)."""
    try:
        async with asyncio.timeout(timeout_s):
            records = await live_workers(redis, deployment)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("system.workers_failed", error=type(exc).__name__)
        return None
    found = []
    for worker_id, record in sorted(records.items()):
        queues = record.get("queues")
        pid, at, ver = record.get("pid"), record.get("at"), record.get("version")
        found.append(
            WorkerInfo(
                id=worker_id,
                version=ver if isinstance(ver, str) else None,
                pid=pid if isinstance(pid, int) else None,
                queues=_queue_names(queues),
                seen_at=float(at) if isinstance(at, int | float) else None,
            )
        )
    return found
