from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ailawyer.db.base import Base, CreatedAtMixin, IdMixin

if TYPE_CHECKING:
    from ailawyer.db.models.user import User


class Akte(IdMixin, CreatedAtMixin, Base):
    """A case file. Minimal for now: enough to authorize `akte:{id}` rooms."""

    __tablename__ = "akten"

    aktenzeichen: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)

    members: Mapped[list[AkteMember]] = relationship(
        back_populates="akte", cascade="all, delete-orphan", passive_deletes=True
    )


class AkteMember(CreatedAtMixin, Base):
    __tablename__ = "akte_members"
    __table_args__ = (Index(None, "user_id"),)

    akte_id: Mapped[str] = mapped_column(
        ForeignKey("akten.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )

    akte: Mapped[Akte] = relationship(back_populates="members")
    user: Mapped[User] = relationship(back_populates="memberships")
