from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ailawyer.db.base import Base, CreatedAtMixin, IdMixin

if TYPE_CHECKING:
    from ailawyer.db.models.user import User

# Unread and not dismissed, as `services.notifications` asks for it.
UNREAD = and_(column("read", Boolean).is_(False), column("dismissed", Boolean).is_(False))


class Notification(IdMixin, CreatedAtMixin, Base):
    """The plan's model, plus `dedupe_key`.

    `dedupe_key` makes persisting idempotent: the worker writes one per job and
    outcome (`job:{queue}:{jobId}:completed`), and the unique constraint turns a
    second delivery of the same job into a no-op.

    `ix_notifications_unread` holds only what is unread and not dismissed: the
    capped unread count reads at most `UNREAD_CAP` of its entries (an index-only
    scan on PostgreSQL) and the unread-only list walks it newest first, however
    many read notifications the user has. Its predicate is written as the
    queries write theirs (`read IS false`), so PostgreSQL and SQLite both see
    that the index applies.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index(None, "user_id", "read"),
        Index(None, "user_id", "created_at"),
        UniqueConstraint("user_id", "dedupe_key"),
        Index(
            "ix_notifications_unread",
            "user_id",
            "created_at",
            postgresql_where=UNREAD,
            sqlite_where=UNREAD,
        ),
    )

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    read: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    dismissed: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    sound_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(255), nullable=True)

    user: Mapped[User] = relationship(back_populates="notifications")
