"""`GET /api/admin/jobs/{job_id}`: find a job by its id alone, whatever its queue.

The queue dashboard's search field. ADMIN only; ids are checked as the
dashboard's other job routes check them (`queues.jobs.is_foreign_job_id`), and
an id no queue holds is 404.
"""

from __future__ import annotations

from fastapi import APIRouter

from ailawyer.api.errors import error_responses
from ailawyer.api.routes.admin_queues import DashboardDep, JobId
from ailawyer.queues.dashboard import JobDetail

router = APIRouter(prefix="/api/admin/jobs", tags=["admin: queues"])


@router.get(
    "/{job_id}",
    response_model=JobDetail,
    summary="The job with this id in any of the deployment's queues",
    responses=error_responses(401, 403, 404, 503),
)
async def find_job(job_id: JobId, dashboard: DashboardDep) -> JobDetail:
    return await dashboard.find(job_id)
