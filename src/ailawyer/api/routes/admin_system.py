"""The admin system page's JSON (`/api/admin/system`); the page is `/admin/system`.

ADMIN only (401 without a session, 403 otherwise). The dependencies' current
state is `GET /api/health` itself; these add what runs (versions of app,
workers, Redis and the database) and the last 24 hours of health samples
(`api.health_history`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query

from ailawyer.api.deps import AdminUser, StateDep
from ailawyer.api.errors import error_responses
from ailawyer.api.health_history import MAX_BUCKET_S, MIN_BUCKET_S, window
from ailawyer.api.system_info import database_server, redis_server, workers
from ailawyer.redis import redis_deadline
from ailawyer.schemas import CamelModel
from ailawyer.version import app_version

router = APIRouter(prefix="/api/admin/system", tags=["admin: system"])


class ServerOut(CamelModel):
    name: str
    version: str | None


class WorkerOut(CamelModel):
    id: str
    version: str | None
    pid: int | None
    queues: list[str]
    seen_at: float | None


class SystemOut(CamelModel):
    app_version: str
    # None: Redis did not answer, so nothing is known about the workers.
    workers: list[WorkerOut] | None
    redis: ServerOut
    database: ServerOut


class BucketOut(CamelModel):
    start: int
    healthy: int
    unhealthy: int
    not_configured: int
    max_latency: int


class HistoryOut(CamelModel):
    interval_s: int
    bucket_s: int
    # Epoch milliseconds: the window is [from_ms, to_ms).
    from_ms: int
    to_ms: int
    services: dict[str, list[BucketOut]]


@router.get(
    "",
    response_model=SystemOut,
    summary="Versions of the app, the live workers, Redis and the database",
    responses=error_responses(401, 403),
)
async def system(_: AdminUser, state: StateDep) -> SystemOut:
    timeout_s = state.health.timeout_s
    redis_info, database_info, found = await asyncio.gather(
        redis_server(state.redis, timeout_s),
        database_server(state.database, timeout_s),
        workers(state.redis, state.settings.deployment, timeout_s),
    )
    return SystemOut(
        app_version=app_version(),
        workers=None
        if found is None
        else [
            WorkerOut(
                id=item.id,
                version=item.version,
                pid=item.pid,
                queues=item.queues,
                seen_at=item.seen_at,
            )
            for item in found
        ],
        redis=ServerOut(name=redis_info.name, version=redis_info.version),
        database=ServerOut(name=database_info.name, version=database_info.version),
    )


@router.get(
    "/health-history",
    response_model=HistoryOut,
    summary="The last 24 hours of health samples per service, in time buckets",
    responses=error_responses(401, 403, 422, 503),
)
async def health_history(
    _: AdminUser,
    state: StateDep,
    bucket_s: Annotated[int, Query(alias="bucketS", ge=MIN_BUCKET_S, le=MAX_BUCKET_S)] = 600,
) -> HistoryOut:
    history = state.health_history
    now_ms = int(time.time() * 1000)
    async with redis_deadline(state.producer.timeout_s):
        services = await history.read(now_ms=now_ms, bucket_s=bucket_s)
    first, _count = window(now_ms, bucket_s)
    return HistoryOut(
        interval_s=int(history.interval_s),
        bucket_s=bucket_s,
        from_ms=first,
        to_ms=now_ms,
        services={
            name: [
                BucketOut(
                    start=b.start,
                    healthy=b.healthy,
                    unhealthy=b.unhealthy,
                    not_configured=b.not_configured,
                    max_latency=b.max_latency,
                )
                for b in buckets
            ]
            for name, buckets in services.items()
        },
    )
