"""The `test` queue's processor: the pipeline's end-to-end proof.

It does nothing useful on purpose: log what arrived, take a second, report its
progress on the way (0, 50, 100: the notification centre draws it), succeed.
"""

from __future__ import annotations

import asyncio

from ailawyer.logs import create_logger
from ailawyer.queues.payloads import TestJobData
from ailawyer.worker.context import JobContext

log = create_logger("worker.processors.test")

WORK_SECONDS = 1.0


async def process(job: JobContext[TestJobData]) -> dict[str, bool]:
    log.info("test_job.processing", data=job.data.to_job_data(), attempt=job.attempt)
    job.report_progress(0)
    await asyncio.sleep(WORK_SECONDS / 2)
    job.report_progress(50)
    await asyncio.sleep(WORK_SECONDS / 2)
    job.report_progress(100)
    return {"success": True}
