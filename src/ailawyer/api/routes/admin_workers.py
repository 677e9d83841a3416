"""The live workers (`GET /api/admin/workers`), from their heartbeats (`ailawyer.presence`).

ADMIN only. A worker is listed while its heartbeat record lives: a worker that
stops deletes it, a killed one drops out when it expires (WORKER_HEARTBEAT_TTL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from ailawyer.api.deps import AdminUser, StateDep
from ailawyer.api.errors import error_responses
from ailawyer.presence import live_workers
from ailawyer.redis import redis_deadline
from ailawyer.schemas import CamelModel

router = APIRouter(prefix="/api/admin/workers", tags=["admin: workers"])


class WorkerQueue(CamelModel):
    name: str
    concurrency: int | None = None
    in_flight: int | None = None


class WorkerInfo(CamelModel):
    id: str
    host: str | None = None
    pid: int | None = None
    queues: list[WorkerQueue]
    in_flight: int | None = None
    started_at: datetime | None = None
    last_beat: datetime | None = None
    version: str | None = None


class WorkerList(CamelModel):
    # The server's time, so that "last beat n s ago" needs no synchronized clock.
    now: datetime
    workers: list[WorkerInfo]


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _queue(value: Any) -> WorkerQueue | None:
    if isinstance(value, str):  # records of workers before the queues had details
        return WorkerQueue(name=value)
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return WorkerQueue(
            name=value["name"],
            concurrency=_int(value.get("concurrency")),
            in_flight=_int(value.get("inFlight")),
        )
    return None


def worker_info(worker_id: str, record: dict[str, Any]) -> WorkerInfo:
    """One heartbeat record as the API shows it; fields a record lacks are null."""
    raw_queues = record.get("queues")
    queues = [q for q in map(_queue, raw_queues if isinstance(raw_queues, list) else []) if q]
    host, version = record.get("host"), record.get("version")
    return WorkerInfo(
        id=worker_id,
        host=host if isinstance(host, str) else None,
        pid=_int(record.get("pid")),
        queues=queues,
        in_flight=_int(record.get("inFlight")),
        started_at=_time(record.get("startedAt")),
        last_beat=_time(record.get("at")),
        version=version if isinstance(version, str) else None,
    )


@router.get(
    "",
    response_model=WorkerList,
    summary="The live workers: host, pid, queues, jobs in flight, last heartbeat",
    responses=error_responses(401, 403, 503),
)
async def list_workers(_admin: AdminUser, state: StateDep) -> WorkerList:
    async with redis_deadline(state.producer.timeout_s):
        records = await live_workers(state.redis, state.settings.deployment)
    workers = [worker_info(worker_id, record) for worker_id, record in records.items()]
    workers.sort(key=lambda w: (w.host or "", w.pid or 0, w.id))
    return WorkerList(now=datetime.now(tz=UTC), workers=workers)
