"""A second SIGTERM to `ailawyer dev` ends it at once, while a long job and an
open request keep the first shutdown waiting.

The first signal is passed on to app and worker as SIGTERM; the worker then
lets its in-flight job run for up to SHUTDOWN_TIMEOUT, the app an open request
for up to its graceful period. The second is passed on too: both stop at once
(exit 128 + 15), and `dev` stops its private Redis and ends with 1 (not a
clean stop).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bullmq import Queue

from tests.deploy.support import REPO, alive, descendants, process_env
from tests.fixtures.processes import ChildProcess
from tests.fixtures.services import free_port
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.slow

SHUTDOWN_TIMEOUT_S = 20


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[tuple[ChildProcess, int, int]]:
    """`ailawyer dev` on a fresh DATA_DIR and a private Redis: the process, that
    Redis's port and the app's port. Killed with everything it started, whatever
    the test did."""
    redis_port, port = free_port(), free_port()
    env = process_env(
        DATA_DIR=str(tmp_path / "data"),
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        DATABASE_URL=None,
        APP_ENV=None,
        AUTH_SECRET=None,
        ADMIN_EMAIL=None,
        ADMIN_PASSWORD=None,
        PYTHONPATH=str(REPO),
        WORKER_EXTRA_QUEUES="tests.fixtures.queues",
        SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT_S),
    )
    # Runs in tmp_path, where its output goes: no developer .env is read.
    child = ChildProcess(["dev", "--port", str(port)], env, tmp_path / "dev.log").start()
    yield child, redis_port, port
    left = descendants(child.pid)
    child.stop(signal.SIGKILL)
    for pid in left:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def app_answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health/live", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def add_slow_job(redis_port: int) -> None:
    queue = Queue("slow", {"connection": f"redis://127.0.0.1:{redis_port}/0"})
    try:
        await queue.add("sleep", {"userId": "u-1", "seconds": 60})
    finally:
        await queue.close()


def test_a_second_sigterm_ends_dev_while_a_job_and_a_request_keep_it_waiting(
    dev: tuple[ChildProcess, int, int],
) -> None:
    process, redis_port, port = dev
    assert wait_until(lambda: "Worker started" in process.output() or not process.running, 90)
    assert wait_until(lambda: app_answers(port) or not process.running, 60)
    assert process.running, process.output()[-3000:]
    asyncio.run(add_slow_job(redis_port))
    assert wait_until(lambda: "slow.run" in process.output(), 30), process.output()[-3000:]
    children = descendants(process.pid)
    # A request whose body never comes keeps the app's graceful shutdown waiting.
    request = socket.create_connection(("127.0.0.1", port))
    request.sendall(
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )

    process.send(signal.SIGTERM)
    assert wait_until(lambda: "Received shutdown signal" in process.output(), 10)
    assert wait_until(lambda: "Waiting for connections to close" in process.output(), 10)
    time.sleep(1.5)
    assert process.running, "dev did not wait for the worker's job"
    signalled = time.monotonic()
    process.send(signal.SIGTERM)
    if not wait_until(lambda: not process.running, 5, 0.01):
        pytest.fail(f"still running 5 s after the second SIGTERM:\n{process.output()[-3000:]}")
    took = time.monotonic() - signalled
    code = process.returncode
    request.close()

    output = process.output()
    assert took < SHUTDOWN_TIMEOUT_S / 4
    assert code == 1, output[-3000:]
    assert output.count("shutdown.forced") >= 2, "the app and the worker were both forced"
    assert wait_until(lambda: not any(alive(pid) for pid in children), 5), "children left"
