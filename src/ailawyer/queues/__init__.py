"""Queues: names, payload models, BullMQ options, the producer and job lookup.

Shared by app and worker. Processors live in `ailawyer.worker.processors`, so the
app never imports what only the worker needs.
"""

from ailawyer.queues.definitions import ALL_QUEUES, QueueSpec, test_queue
from ailawyer.queues.options import DEFAULT_JOB_OPTIONS, calculate_backoff
from ailawyer.queues.payloads import JobPayload, Payload, SystemJobPayload, TestJobData
from ailawyer.queues.schedules import ALL_SCHEDULES, ScheduleSpec

__all__ = [
    "ALL_QUEUES",
    "ALL_SCHEDULES",
    "DEFAULT_JOB_OPTIONS",
    "JobPayload",
    "Payload",
    "QueueSpec",
    "ScheduleSpec",
    "SystemJobPayload",
    "TestJobData",
    "calculate_backoff",
    "test_queue",
]
