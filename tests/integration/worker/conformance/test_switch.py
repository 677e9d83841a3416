"""WORKER_LOOP chooses the loop of a real worker process."""

from __future__ import annotations

import pytest

from tests.fixtures.processes import Processes

pytestmark = pytest.mark.slow


@pytest.mark.both_loops
async def test_worker_loop_chooses_the_fetch_loop(processes: Processes, worker_loop: str) -> None:
    worker = await processes.worker()
    (started,) = worker.find("Worker started")
    assert started["workerLoop"] == worker_loop
