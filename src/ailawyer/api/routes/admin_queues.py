"""The admin queue dashboard's JSON API (`/api/admin/queues`); the page is `/admin/queues`.

Every route is ADMIN only (401 without a session, 403 otherwise; state-changing
ones need the CSRF header like every other). The logic lives in
`queues.dashboard`; a Redis outage there is a 503 within the deadline.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from ailawyer.api.deps import AdminUser, ProducerDep, ReadDep, StateDep
from ailawyer.api.errors import error_responses
from ailawyer.api.job_outcomes import announce_cancelled
from ailawyer.queues.dashboard import (
    MAX_CLEAN_LIMIT,
    MAX_PAGE_SIZE,
    CleanableState,
    JobDetail,
    JobPage,
    JobState,
    JobUser,
    QueueDashboard,
    QueueSummary,
)
from ailawyer.queues.jobs import MAX_FOREIGN_JOB_ID, cancel_job
from ailawyer.queues.throughput import MetricsRange, Throughput
from ailawyer.schemas import CamelModel
from ailawyer.services.users import names_by_id

router = APIRouter(prefix="/api/admin/queues", tags=["admin: queues"])

_TEN_YEARS_S: Final = 10 * 365 * 86_400
_READ = error_responses(401, 403, 404, 503)
_WRITE = error_responses(400, 401, 403, 404, 409, 503)

QueueName = Annotated[str, Path(min_length=1, max_length=128, description="BullMQ queue name")]
# Other producers' ids too (spaces, `#`, unicode, up to 256 characters); which
# of them are looked up is decided in `queues.jobs.is_foreign_job_id`.
JobId = Annotated[str, Path(min_length=1, max_length=MAX_FOREIGN_JOB_ID)]


async def get_dashboard(producer: ProducerDep, _admin: AdminUser) -> QueueDashboard:
    """Admin first: a non-admin learns nothing, not even whether a queue exists."""
    return QueueDashboard(producer)


DashboardDep = Annotated[QueueDashboard, Depends(get_dashboard)]


class QueueList(CamelModel):
    queues: list[QueueSummary]


class JobAction(CamelModel):
    success: bool
    queue: str
    job_id: str


class CleanRequest(CamelModel):
    state: CleanableState
    older_than_s: Annotated[int, Field(ge=0, le=_TEN_YEARS_S)] = 0
    limit: Annotated[int, Field(ge=1, le=MAX_CLEAN_LIMIT)] = 1000


class CleanResult(CamelModel):
    queue: str
    state: str
    removed: int


class PauseResult(CamelModel):
    queue: str
    paused: bool


@router.get(
    "", response_model=QueueList, summary="Every queue with its counts per state", responses=_READ
)
async def list_queues(dashboard: DashboardDep) -> QueueList:
    return QueueList(queues=await dashboard.overview())


@router.get("/{name}", response_model=QueueSummary, summary="One queue's counts", responses=_READ)
async def get_queue(name: QueueName, dashboard: DashboardDep) -> QueueSummary:
    return await dashboard.queue_summary(name)


@router.get(
    "/{name}/metrics",
    response_model=Throughput,
    summary="Completed and failed jobs per time bucket (BullMQ's metrics)",
    responses=_READ,
)
async def queue_metrics(
    name: QueueName,
    dashboard: DashboardDep,
    window: Annotated[
        MetricsRange,
        Query(alias="range", description="1h: minutes; 24h: 15 minutes; 7d: hours"),
    ] = "1h",
) -> Throughput:
    return await dashboard.throughput(name, window)


@router.get(
    "/{name}/jobs", response_model=JobPage, summary="A page of one state's jobs", responses=_READ
)
async def list_jobs(
    name: QueueName,
    dashboard: DashboardDep,
    db: ReadDep,
    state: JobState = "failed",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> JobPage:
    found = await dashboard.jobs(name, state, page=page, page_size=page_size)
    owners = await names_by_id(db, {job.user_id for job in found.jobs if job.user_id})
    for job in found.jobs:
        if job.user_id in owners:
            user_name, email = owners[job.user_id]
            job.user = JobUser(id=job.user_id, name=user_name, email=email)
    return found


@router.get(
    "/{name}/jobs/{job_id}",
    response_model=JobDetail,
    summary="A job's data, options, attempts, errors, result and logs",
    responses=_READ,
)
async def get_job(name: QueueName, job_id: JobId, dashboard: DashboardDep) -> JobDetail:
    return await dashboard.job(name, job_id)


@router.post(
    "/{name}/jobs/{job_id}/retry",
    response_model=JobAction,
    summary="Retry a failed job",
    responses=_WRITE,
)
async def retry_job(name: QueueName, job_id: JobId, dashboard: DashboardDep) -> JobAction:
    await dashboard.retry(name, job_id)
    return JobAction(success=True, queue=name, job_id=job_id)


@router.post(
    "/{name}/jobs/{job_id}/promote",
    response_model=JobAction,
    summary="Run a delayed job now",
    responses=_WRITE,
)
async def promote_job(name: QueueName, job_id: JobId, dashboard: DashboardDep) -> JobAction:
    await dashboard.promote(name, job_id)
    return JobAction(success=True, queue=name, job_id=job_id)


@router.post(
    "/{name}/jobs/{job_id}/cancel",
    response_model=JobAction,
    summary='Cancel a waiting or running job (it ends failed, "Abgebrochen")',
    responses=_WRITE,
)
async def cancel_queue_job(
    name: QueueName, job_id: JobId, admin: AdminUser, state: StateDep
) -> JobAction:
    cancelled = await cancel_job(
        state.producer,
        state.settings.deployment,
        job_id,
        user_id=admin.id,
        is_admin=True,
        queue=name,
    )
    if cancelled.ended:
        await announce_cancelled(state, cancelled)
    return JobAction(success=True, queue=name, job_id=job_id)


@router.delete(
    "/{name}/jobs/{job_id}",
    response_model=JobAction,
    summary="Remove a job (not while a worker holds it)",
    responses=_WRITE,
)
async def remove_job(name: QueueName, job_id: JobId, dashboard: DashboardDep) -> JobAction:
    await dashboard.remove(name, job_id)
    return JobAction(success=True, queue=name, job_id=job_id)


@router.post(
    "/{name}/clean",
    response_model=CleanResult,
    summary="Remove a state's jobs older than an age",
    responses=_WRITE,
)
async def clean_queue(name: QueueName, body: CleanRequest, dashboard: DashboardDep) -> CleanResult:
    removed = await dashboard.clean(
        name, body.state, older_than_s=body.older_than_s, limit=body.limit
    )
    return CleanResult(queue=name, state=body.state, removed=removed)


@router.post(
    "/{name}/pause",
    response_model=PauseResult,
    summary="Pause a queue (all workers)",
    responses=_WRITE,
)
async def pause_queue(name: QueueName, dashboard: DashboardDep) -> PauseResult:
    return PauseResult(queue=name, paused=await dashboard.set_paused(name, True))


@router.post(
    "/{name}/resume", response_model=PauseResult, summary="Resume a paused queue", responses=_WRITE
)
async def resume_queue(name: QueueName, dashboard: DashboardDep) -> PauseResult:
    return PauseResult(queue=name, paused=await dashboard.set_paused(name, False))
