"""Job payloads, validated before they are enqueued.

Payloads carry ids, not case contents: Redis keeps them in clear text. The JSON
layout is camelCase, the contract with other BullMQ producers.

Two kinds, and the type says which:

- `JobPayload`: a user's job. It carries the `userId` that owns it: the owner is
  notified of the outcome, and only the owner or an ADMIN may retry or cancel it.
- `SystemJobPayload`: a job of the platform itself (maintenance, a schedule's
  run). It has no owner, not even a made-up one: its success notifies nobody, its
  final failure every ADMIN.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class Payload(BaseModel):
    """Base of every payload: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def to_job_data(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


class JobPayload(Payload):
    """A user's job: `user_id` owns it."""

    user_id: Id


class SystemJobPayload(Payload):
    """A job of the platform itself: no owner."""


def owner_of(payload: Payload) -> str | None:
    """The user who owns a job, or None for a system job."""
    return payload.user_id if isinstance(payload, JobPayload) else None


class TestJobData(JobPayload):
    """The `test` queue: the pipeline's end-to-end proof."""

    __test__ = False  # not a pytest class

    message: str = Field(min_length=1, max_length=1000)


class MaintenanceData(SystemJobPayload):
    """The `maintenance` queue: which clean-up to run."""

    task: Literal["notifications", "sessions", "queues"]
