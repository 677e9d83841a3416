"""The caller's notifications: list (newest first, with the unread count, capped
at `UNREAD_CAP`), mark read, mark all read, dismiss. Every query is scoped to
the caller, so another user's notification answers 404 like one that does not
exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from ailawyer.api.deps import CurrentUser, ReadDep, SessionDep
from ailawyer.api.errors import error_responses
from ailawyer.api.responses import model_response
from ailawyer.schemas import CamelModel
from ailawyer.services import notifications as service
from ailawyer.services.notifications import MAX_PAGE, NotificationOut, NotificationPage

router = APIRouter(prefix="/api/notifications", tags=["notifications"])

NotificationId = Annotated[str, Path(alias="id", min_length=1, max_length=64)]


class ReadAllOut(CamelModel):
    """What mark-all-read changed, and the unread count after it (capped as in
    the list: new notifications may have arrived meanwhile)."""

    updated: int
    unread_count: int
    unread_count_capped: bool


@router.get(
    "",
    response_model=NotificationPage,
    summary="The caller's notifications, newest first",
    responses=error_responses(400, 401, 503),
)
async def list_notifications(
    user: CurrentUser,
    db: ReadDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    unread_only: Annotated[bool, Query(alias="unreadOnly")] = False,
) -> Response:
    page = await service.list_notifications(
        db, user.id, limit=limit, cursor=cursor, unread_only=unread_only
    )
    return model_response(page)


@router.post(
    "/read-all",
    response_model=ReadAllOut,
    summary="Mark all of the caller's notifications read",
    responses=error_responses(401, 403, 503),
)
async def read_all(user: CurrentUser, session: SessionDep) -> ReadAllOut:
    updated = await service.mark_all_read(session, user.id)
    count = await service.unread_count(session, user.id)
    return ReadAllOut(
        updated=updated, unread_count=count, unread_count_capped=service.is_capped(count)
    )


@router.post(
    "/{id}/read",
    response_model=NotificationOut,
    summary="Mark one notification read",
    responses=error_responses(401, 403, 404, 503),
)
async def read_one(
    notification_id: NotificationId, user: CurrentUser, session: SessionDep
) -> NotificationOut:
    return NotificationOut.model_validate(
        await service.mark_read(session, user.id, notification_id)
    )


@router.post(
    "/{id}/dismiss",
    response_model=NotificationOut,
    summary="Dismiss one notification (it leaves the list)",
    responses=error_responses(401, 403, 404, 503),
)
async def dismiss(
    notification_id: NotificationId, user: CurrentUser, session: SessionDep
) -> NotificationOut:
    return NotificationOut.model_validate(await service.dismiss(session, user.id, notification_id))
