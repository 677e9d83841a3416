"""The `maintenance` queue's processor: the clean-ups of the `maintenance.*` schedules.

System jobs: nobody owns them, a success notifies nobody, a final failure every
ADMIN. What each task deletes is `services.maintenance`.
"""

from __future__ import annotations

from datetime import timedelta

from ailawyer.db.base import utcnow
from ailawyer.queues.payloads import MaintenanceData
from ailawyer.services import maintenance
from ailawyer.worker.context import JobContext


async def process(job: JobContext[MaintenanceData]) -> dict[str, object]:
    resources = job.need_resources()
    task = job.data.task
    if task == "notifications":
        async with resources.database.session() as session:
            days = await maintenance.retention_days(session)
        older_than = utcnow() - timedelta(days=days)
        deleted = await maintenance.delete_dismissed_notifications(
            resources.database, older_than=older_than
        )
        return {"task": task, "deleted": deleted, "retentionDays": days}
    if task == "sessions":
        return {
            "task": task,
            "deleted": await maintenance.delete_ended_sessions(resources.database),
        }
    cleaned = await maintenance.clean_queues(resources.producer.queues.values())
    return {"task": task, "removed": cleaned}
