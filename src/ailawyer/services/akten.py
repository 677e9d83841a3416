"""Who may see a case file (`Akte`): its members, and every ADMIN.

The real-time layer asks this before a connection joins an `akte:{id}` room;
later features (documents, deadlines) ask the same question, so it lives here
and not in the Socket.IO code.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Akte, AkteMember, Role


async def is_member(session: AsyncSession, *, akte_id: str, user_id: str) -> bool:
    found = await session.scalar(
        select(exists().where(AkteMember.akte_id == akte_id, AkteMember.user_id == user_id))
    )
    return bool(found)


async def can_access_akte(session: AsyncSession, *, akte_id: str, user_id: str, role: str) -> bool:
    """Members always; an ADMIN for every Akte that exists (not for made-up ids)."""
    if role == Role.ADMIN:
        found = await session.scalar(select(exists().where(Akte.id == akte_id)))
        return bool(found)
    return await is_member(session, akte_id=akte_id, user_id=user_id)
