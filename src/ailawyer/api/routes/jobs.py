"""The caller's jobs: retry a failed one, cancel a running one, list the running ones.

Retry and cancel share one matrix (`queues.jobs`): 401 without a session, 404 for
an unknown job, 403 unless the caller owns the job or is an ADMIN (checked before
anything about the job's state is revealed), 400 when its state does not allow
the action.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path

from ailawyer.api.deps import CurrentUser, ProducerDep, StateDep
from ailawyer.api.errors import error_responses
from ailawyer.api.job_outcomes import announce_cancelled
from ailawyer.queues.jobs import ActiveJob, active_jobs, cancel_job, retry_failed_job
from ailawyer.schemas import CamelModel

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

JobIdPath = Annotated[str, Path(alias="jobId", min_length=1, max_length=128)]


class JobActionOut(CamelModel):
    success: Literal[True]
    job_id: str
    queue: str


class ActiveJobsOut(CamelModel):
    jobs: list[ActiveJob]


@router.post(
    "/{jobId}/retry",
    response_model=JobActionOut,
    summary="Retry a failed job (its owner or an ADMIN)",
    responses=error_responses(400, 401, 403, 404, 503),
)
async def retry_job(job_id: JobIdPath, user: CurrentUser, producer: ProducerDep) -> JobActionOut:
    retried = await retry_failed_job(producer, job_id, user_id=user.id, is_admin=user.is_admin)
    return JobActionOut(success=True, job_id=retried.id, queue=retried.queue)


@router.post(
    "/{jobId}/cancel",
    response_model=JobActionOut,
    summary="Cancel a waiting or running job (its owner or an ADMIN); it ends failed, "
    '"Abgebrochen", and is not retried',
    responses=error_responses(400, 401, 403, 404, 503),
)
async def cancel(job_id: JobIdPath, user: CurrentUser, state: StateDep) -> JobActionOut:
    cancelled = await cancel_job(
        state.producer,
        state.settings.deployment,
        job_id,
        user_id=user.id,
        is_admin=user.is_admin,
    )
    if cancelled.ended:
        await announce_cancelled(state, cancelled)
    return JobActionOut(success=True, job_id=cancelled.job_id, queue=cancelled.spec.name)


@router.get(
    "/active",
    response_model=ActiveJobsOut,
    summary="The caller's jobs that have not finished (an ADMIN's: everyone's)",
    responses=error_responses(401, 503),
)
async def list_active(user: CurrentUser, producer: ProducerDep) -> ActiveJobsOut:
    return ActiveJobsOut(jobs=await active_jobs(producer, user_id=user.id, is_admin=user.is_admin))
