"""Queues: names, payload models, BullMQ options, the producer and job lookup.

Shared by app and worker. Processors live in `ailawyer.worker.processors`, so the
app never imports what only the worker needs.
"""

from ailawyer.queues.definitions import ALL_QUEUES, QueueSpec, test_queue
from ailawyer.queues.options import DEFAULT_JOB_OPTIONS, calculate_backoff
from ailawyer.queues.payloads import JobPayload, TestJobData

__all__ = [
    "ALL_QUEUES",
    "DEFAULT_JOB_OPTIONS",
    "JobPayload",
    "QueueSpec",
    "TestJobData",
    "calculate_backoff",
    "test_queue",
]
