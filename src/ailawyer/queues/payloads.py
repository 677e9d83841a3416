"""Job payloads, validated before they are enqueued.

Payloads carry ids, not case contents: Redis keeps them in clear text. Every job
carries the `userId` that owns it (notifications and retry permission use it).
The JSON layout is camelCase, the contract with other BullMQ producers.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class JobPayload(BaseModel):
    """Base of every payload: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    user_id: Id

    def to_job_data(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


class TestJobData(JobPayload):
    """The `test` queue: the pipeline's end-to-end proof."""

    __test__ = False  # not a pytest class

    message: str = Field(min_length=1, max_length=1000)
