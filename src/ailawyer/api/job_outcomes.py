"""A job outcome the app decides itself: a waiting job cancelled through the API.

An active job is cancelled by the worker that runs it, which notifies its owner.
A job that was still waiting never reaches a worker again, so the app writes the
owner's "Vorgang abgebrochen" itself, the same row with the same dedupe key
(`services.outcomes`), and emits it through its own Socket.IO server, whose
Redis manager delivers it on every app process.
"""

from __future__ import annotations

from ailawyer.api.state import AppState
from ailawyer.logs import create_logger
from ailawyer.queues.jobs import CancelledJob
from ailawyer.realtime.rooms import NOTIFICATION_EVENT
from ailawyer.services.notifications import persist_notifications
from ailawyer.services.outcomes import cancelled_draft

log = create_logger("api.job_outcomes")


async def announce_cancelled(state: AppState, cancelled: CancelledJob) -> None:
    """Persist and emit the owner's notification; the job has ended already, so a
    database or Redis failure here is logged, not answered."""
    if cancelled.owner is None:
        return
    draft = cancelled_draft(cancelled.spec, cancelled.job_id, cancelled.owner)
    try:
        async with state.database.session() as session:
            [(out, _)] = await persist_notifications(session, [draft])
    except Exception as exc:
        log.error("notification.persist_failed", outcome="cancelled", error=type(exc).__name__)
        return
    if out is None:
        return
    try:
        await state.socket.to_user(out.user_id, NOTIFICATION_EVENT, out.to_wire())
    except Exception as exc:
        log.warning("notification.emit_failed", notificationId=out.id, error=type(exc).__name__)
