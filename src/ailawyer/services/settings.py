"""System settings: typed values, defaults, and the messages of the settings channel.

A change is stored first, then published on the deployment's settings channel
(`deployment.Deployment.settings_channel`); every process (app and worker)
subscribes (`pubsub.Subscription` with `on_message` and `reloader`) and applies
what it understands (`log.level`) without a restart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer import messages
from ailawyer.db.engine import Database
from ailawyer.db.models import SettingType, SystemSetting
from ailawyer.errors import Invalid, NotFound
from ailawyer.logs import LEVELS, create_logger, set_log_level

log = create_logger("settings")


@dataclass(frozen=True)
class SettingDefault:
    key: str
    value: Any
    type: SettingType
    category: str
    label: str
    choices: tuple[str, ...] | None = None
    # For numbers: the range allowed, and whether only whole numbers are.
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False


RETENTION_DAYS_DEFAULT = 90


DEFAULTS: tuple[SettingDefault, ...] = (
    SettingDefault(
        key="log.level",
        value="info",
        type=SettingType.STRING,
        category="logging",
        label="Protokollierungsstufe",
        choices=tuple(LEVELS),
    ),
    SettingDefault(
        key="notifications.retention_days",
        value=RETENTION_DAYS_DEFAULT,
        type=SettingType.NUMBER,
        category="maintenance",
        label="Entfernte Benachrichtigungen aufbewahren (Tage)",
        minimum=1,
        maximum=3650,
        integer=True,
    ),
)
_DEFAULTS_BY_KEY = {item.key: item for item in DEFAULTS}

# The settings page's headings, one per category of DEFAULTS and the model's
# default `general` (a category missing here is shown by its key).
CATEGORY_LABELS: dict[str, str] = {
    "general": "Allgemein",
    "logging": "Protokollierung",
    "maintenance": "Wartung",
}


def declared(key: str) -> SettingDefault | None:
    """What the code declares about a setting (its choices and range), if anything."""
    return _DEFAULTS_BY_KEY.get(key)


def category_label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category)


def parse_value(setting_type: str, value: Any, *, key: str = "") -> Any:
    """Check `value` against the declared type (and the key's choices)."""
    kind = SettingType(setting_type)
    if kind is SettingType.STRING:
        ok = isinstance(value, str)
    elif kind is SettingType.NUMBER:
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(float(value))
        )
    elif kind is SettingType.BOOLEAN:
        ok = isinstance(value, bool)
    else:
        try:
            json.dumps(value, allow_nan=False)
            ok = True
        except (TypeError, ValueError):
            ok = False
    if not ok:
        raise Invalid(f"Wert passt nicht zum Typ „{kind.value}“", details={"key": key})
    default = _DEFAULTS_BY_KEY.get(key)
    if default and default.choices and value not in default.choices:
        raise Invalid(
            f"Erlaubte Werte: {', '.join(default.choices)}",
            details={"key": key, "choices": list(default.choices)},
        )
    if default and kind is SettingType.NUMBER:
        if default.integer and float(value) != int(value):
            raise Invalid("Nur ganze Zahlen sind erlaubt", details={"key": key})
        low, high = default.minimum, default.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            span = " ".join(
                part
                for part in (
                    f"ab {low:g}" if low is not None else "",
                    f"bis {high:g}" if high is not None else "",
                )
                if part
            )
            raise Invalid(
                f"Erlaubt sind Werte {span}",
                details={"key": key, "minimum": low, "maximum": high},
            )
    return value


def encode_value(setting_type: str, value: Any) -> str:
    kind = SettingType(setting_type)
    if kind is SettingType.STRING:
        return str(value)
    return json.dumps(value, allow_nan=False)


def decode_value(setting_type: str, raw: str) -> Any:
    if SettingType(setting_type) is SettingType.STRING:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


async def seed_defaults(session: AsyncSession, initial: dict[str, Any] | None = None) -> int:
    """Insert the defaults that are missing; never overwrite a value. Returns the count.

    `initial` replaces a default's value when it is first stored, so that e.g. the
    operator's LOG_LEVEL becomes the starting `log.level` instead of being
    overridden by the built-in default at the first re-read.
    """
    existing = set((await session.execute(select(SystemSetting.key))).scalars())
    added = 0
    for item in DEFAULTS:
        if item.key in existing:
            continue
        value = (initial or {}).get(item.key, item.value)
        session.add(
            SystemSetting(
                key=item.key,
                value=encode_value(item.type, parse_value(item.type, value, key=item.key)),
                type=item.type.value,
                category=item.category,
                label=item.label,
            )
        )
        added += 1
    await session.flush()
    return added


async def list_settings(session: AsyncSession, category: str | None = None) -> list[SystemSetting]:
    query = select(SystemSetting).order_by(SystemSetting.category, SystemSetting.key)
    if category:
        query = query.where(SystemSetting.category == category)
    return list((await session.execute(query)).scalars())


async def get_setting(session: AsyncSession, key: str) -> SystemSetting:
    item = await session.scalar(select(SystemSetting).where(SystemSetting.key == key))
    if item is None:
        raise NotFound(messages.SETTING_NOT_FOUND)
    return item


async def update_setting(session: AsyncSession, key: str, value: Any) -> SystemSetting:
    """Validate and store (flush). The caller publishes after the commit."""
    item = await get_setting(session, key)
    parse_value(item.type, value, key=key)
    item.value = encode_value(item.type, value)
    await session.flush()
    return item


def change_message(key: str, value: Any) -> str:
    return json.dumps({"key": key, "value": value})


def apply_setting(key: str, value: Any) -> bool:
    """Apply a setting in this process. Returns whether it meant anything here."""
    if key == "log.level":
        if not isinstance(value, str) or value.lower() not in LEVELS:
            log.warning("settings.invalid_value", key=key)
            return False
        set_log_level(value.lower())
        log.info("settings.applied", key=key, value=value.lower())
        return True
    return False


def apply_message(raw: bytes | str) -> bool:
    """Apply one `settings:changed` message; malformed ones are logged and ignored."""
    try:
        payload = json.loads(raw)
        key, value = payload["key"], payload["value"]
        if not isinstance(key, str):
            raise TypeError("key")
    except (ValueError, KeyError, TypeError):
        log.warning("settings.malformed_message", size=len(raw))
        return False
    return apply_setting(key, value)


async def apply_all(session: AsyncSession) -> None:
    """Re-read every setting and apply it."""
    for item in await list_settings(session):
        apply_setting(item.key, decode_value(item.type, item.value))


async def on_message(raw: bytes | str) -> None:
    """The settings channel's handler (`pubsub.Subscription`)."""
    apply_message(raw)


def reloader(database: Database) -> Callable[[], Awaitable[None]]:
    """Re-read the settings from the database after every (re)subscription: a
    change published while the process could not hear it is not lost. The
    database is the truth for runtime settings: once it has been read, a stored
    `log.level` wins over LOG_LEVEL."""

    async def reload() -> None:
        async with database.session() as session:
            await apply_all(session)
        log.info("settings.reloaded")

    return reload
