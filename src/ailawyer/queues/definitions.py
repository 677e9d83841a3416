"""Every queue the product has. To add one, see docs/adding-a-queue.md.

A `QueueSpec` is what app and worker share about a queue: its BullMQ name, its
payload model, and how its notifications read. The processor is bound to the
spec in the worker (`ailawyer.worker.processors`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ailawyer.queues.payloads import JobPayload, TestJobData


@dataclass(frozen=True)
class QueueSpec:
    name: str
    payload: type[JobPayload]
    # German, shown in notifications ("Der Vorgang „Testauftrag“ …").
    label: str
    # Overrides of DEFAULT_JOB_OPTIONS (BullMQ camelCase), e.g. {"attempts": 1}.
    job_options: dict[str, Any] = field(default_factory=dict)
    # Whether a completed job notifies its user (a failed one always does).
    notify_on_complete: bool = True


test_queue = QueueSpec(name="test", payload=TestJobData, label="Testauftrag")

ALL_QUEUES: tuple[QueueSpec, ...] = (test_queue,)
