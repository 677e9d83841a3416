"""`POST /api/jobs/{jobId}/retry`: a failed job, again, for its owner or an ADMIN.

The order of checks (found → allowed → failed) lives in
`queues.jobs.retry_failed_job`: another user's job answers 403 before anything
about its state is revealed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path

from ailawyer.api.deps import CurrentUser, ProducerDep
from ailawyer.api.errors import error_responses
from ailawyer.queues.jobs import retry_failed_job
from ailawyer.schemas import CamelModel

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


class RetryOut(CamelModel):
    success: Literal[True]
    job_id: str
    queue: str


@router.post(
    "/{jobId}/retry",
    response_model=RetryOut,
    summary="Retry a failed job (its owner or an ADMIN)",
    responses=error_responses(400, 401, 403, 404, 503),
)
async def retry_job(
    job_id: Annotated[str, Path(alias="jobId", min_length=1, max_length=128)],
    user: CurrentUser,
    producer: ProducerDep,
) -> RetryOut:
    retried = await retry_failed_job(producer, job_id, user_id=user.id, is_admin=user.is_admin)
    return RetryOut(success=True, job_id=retried.id, queue=retried.queue)
