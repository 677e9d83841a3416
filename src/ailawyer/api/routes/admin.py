"""Admin actions of this foundation: `POST /api/admin/test-job`, the pipeline's
end-to-end proof (docs/architecture.md). The queue dashboard's routes live beside it
(`/api/admin/queues`)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from ailawyer.api.deps import AdminUser, ProducerDep
from ailawyer.api.errors import error_responses
from ailawyer.api.responses import model_response
from ailawyer.queues import TestJobData, test_queue
from ailawyer.schemas import CamelModel

router = APIRouter(prefix="/api/admin", tags=["admin"])

TEST_JOB_MESSAGE = "Test job from admin"


class EnqueuedOut(CamelModel):
    job_id: str
    queue: str


@router.post(
    "/test-job",
    response_model=EnqueuedOut,
    status_code=status.HTTP_201_CREATED,
    summary="Enqueue a test job for the calling admin",
    responses=error_responses(401, 403, 503),
)
async def enqueue_test_job(admin: AdminUser, producer: ProducerDep) -> Response:
    # No database session and no post-commit buffer: the job refers to nothing but
    # the caller, so there is no transaction to wait for, and the add is the
    # request's last step (it fails the request, or it is done before the 201).
    # A buffer is a dependency with an exit: FastAPI's exit stack and cancel
    # scope around it cost more than the add's own Python.
    job = await producer.enqueue(
        test_queue, TestJobData(user_id=admin.id, message=TEST_JOB_MESSAGE)
    )
    return model_response(EnqueuedOut(job_id=job.id, queue=job.queue), status.HTTP_201_CREATED)
