from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ailawyer.db.base import Base, CreatedAtMixin, IdMixin, UTCDateTime, utcnow


class SettingType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    JSON = "json"


class SystemSetting(IdMixin, CreatedAtMixin, Base):
    """A runtime setting. `value` is text; `type` says how to read it."""

    __tablename__ = "system_settings"
    __table_args__ = (Index(None, "category"),)

    key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(
        String(16), nullable=False, default=SettingType.STRING, server_default="string"
    )
    category: Mapped[str] = mapped_column(
        String(64), nullable=False, default="general", server_default="general"
    )
    label: Mapped[str | None] = mapped_column(String(300), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )
