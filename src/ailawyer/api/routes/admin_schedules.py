"""The job schedules, for ADMINs: `GET /api/admin/schedules`, and
`POST /api/admin/schedules/{id}/run` ("Jetzt ausführen": one job now)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from ailawyer.api.deps import AdminUser, StateDep
from ailawyer.api.errors import error_responses
from ailawyer.api.responses import model_response
from ailawyer.queues.schedule_admin import ScheduleOut, list_schedules, run_now
from ailawyer.schemas import CamelModel

router = APIRouter(prefix="/api/admin/schedules", tags=["admin: schedules"])

ScheduleId = Annotated[str, Path(alias="id", min_length=1, max_length=100)]


class ScheduleRunOut(CamelModel):
    job_id: str
    queue: str


@router.get(
    "",
    response_model=list[ScheduleOut],
    summary="Every job schedule with its next and last run",
    responses=error_responses(401, 403, 503),
)
async def schedules(_: AdminUser, state: StateDep) -> list[ScheduleOut]:
    return await list_schedules(state.producer, state.settings.deployment)


@router.post(
    "/{id}/run",
    response_model=ScheduleRunOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add one job of a schedule now",
    responses=error_responses(401, 403, 404, 503),
)
async def run_schedule(schedule_id: ScheduleId, _: AdminUser, state: StateDep) -> Response:
    job = await run_now(state.producer, state.schedules, schedule_id)
    return model_response(ScheduleRunOut(job_id=job.id, queue=job.queue), status.HTTP_201_CREATED)
