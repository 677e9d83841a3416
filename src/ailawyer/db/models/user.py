from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ailawyer.db.base import Base, CreatedAtMixin, IdMixin, UTCDateTime, utcnow

if TYPE_CHECKING:
    from ailawyer.db.models.akte import AkteMember
    from ailawyer.db.models.notification import Notification


class Role(StrEnum):
    ADMIN = "ADMIN"
    ANWALT = "ANWALT"
    SACHBEARBEITER = "SACHBEARBEITER"
    SEKRETARIAT = "SEKRETARIAT"


class User(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "users"

    # Stored lower-case; uniqueness is therefore case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False, default=Role.SACHBEARBEITER)
    active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=text("true")
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )

    notifications: Mapped[list[Notification]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    memberships: Mapped[list[AkteMember]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class UserSession(CreatedAtMixin, Base):
    """A login. The cookie carries `id` (signed); revoking sets `revoked_at`."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index(None, "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship(back_populates="sessions")
