"""System settings, for ADMINs: read all, read one, change one.

A change is validated against the setting's type (422 and nothing stored when
it does not fit), committed, and only then published on the deployment's
settings channel, where every app and worker process of this deployment picks
it up (this one included).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path

from ailawyer.api.deps import AdminUser, PostCommitDep, SessionDep, StateDep
from ailawyer.api.errors import error_responses
from ailawyer.db.models import SystemSetting
from ailawyer.logs import create_logger
from ailawyer.schemas import CamelModel
from ailawyer.services import settings as service

router = APIRouter(prefix="/api/settings", tags=["settings"])
log = create_logger("api.settings")

SettingKey = Annotated[str, Path(min_length=1, max_length=200)]


class SettingOut(CamelModel):
    key: str
    value: Any
    type: str
    category: str
    # The category's German heading (`services.settings.CATEGORY_LABELS`).
    category_label: str
    label: str | None
    # What the code declares: allowed values, and a number's range.
    choices: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    updated_at: datetime


class SettingUpdate(CamelModel):
    value: Any


def _out(item: SystemSetting) -> SettingOut:
    declared = service.declared(item.key)
    return SettingOut(
        key=item.key,
        value=service.decode_value(item.type, item.value),
        type=item.type,
        category=item.category,
        category_label=service.category_label(item.category),
        label=item.label or (declared.label if declared else None),
        choices=list(declared.choices) if declared and declared.choices else None,
        minimum=declared.minimum if declared else None,
        maximum=declared.maximum if declared else None,
        integer=declared.integer if declared else False,
        updated_at=item.updated_at,
    )


@router.get(
    "",
    response_model=list[SettingOut],
    summary="Every system setting",
    responses=error_responses(401, 403, 503),
)
async def list_settings(_: AdminUser, session: SessionDep) -> list[SettingOut]:
    return [_out(item) for item in await service.list_settings(session)]


@router.get(
    "/{key}",
    response_model=SettingOut,
    summary="One system setting",
    responses=error_responses(401, 403, 404, 503),
)
async def get_setting(key: SettingKey, _: AdminUser, session: SessionDep) -> SettingOut:
    return _out(await service.get_setting(session, key))


@router.put(
    "/{key}",
    response_model=SettingOut,
    summary="Change a system setting (validated by its type, then published)",
    responses=error_responses(401, 403, 404, 503),
)
async def update_setting(
    key: SettingKey,
    body: SettingUpdate,
    _: AdminUser,
    state: StateDep,
    session: SessionDep,
    after_commit: PostCommitDep,
) -> SettingOut:
    item = await service.update_setting(session, key, body.value)
    value = service.decode_value(item.type, item.value)
    channel = state.settings.deployment.settings_channel
    after_commit.publish(channel, service.change_message(key, value))
    log.info("settings.changed", key=key)
    return _out(item)
