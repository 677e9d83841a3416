"""Room names: the contract between emitters and the Socket.IO server."""

from __future__ import annotations

NOTIFICATION_EVENT = "notification"
# To `role:ADMIN` when a job has failed for good: the error, for live admin views.
# (Each admin's persisted copy arrives as a `notification` in their own room.)
JOB_FAILED_EVENT = "job:failed"
# To `user:{owner}` while a job runs: `{jobId, queue, label, progress}`.
JOB_PROGRESS_EVENT = "job:progress"


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def akte_room(akte_id: str) -> str:
    return f"akte:{akte_id}"


def role_room(role: str) -> str:
    return f"role:{role}"
