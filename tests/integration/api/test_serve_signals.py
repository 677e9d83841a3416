"""A second SIGTERM to `ailawyer serve` ends a graceful shutdown that is still waiting.

The first signal lets open requests finish (up to `GRACEFUL_SHUTDOWN_S`); a
request whose body never arrives keeps that shutdown waiting. The second
signal must end the process at once, as it does for the worker.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from ailawyer.cli.serve import GRACEFUL_SHUTDOWN_S
from tests.fixtures.processes import ChildProcess, Processes

pytestmark = pytest.mark.slow


async def wait_exit(app: ChildProcess, timeout: float) -> int | None:
    """The exit code, or None if it is still running after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = app.returncode
        if code is not None:
            return code
        await asyncio.sleep(0.05)
    return None


async def test_a_second_sigterm_ends_a_waiting_shutdown_at_once(processes: Processes) -> None:
    app = processes.serve()
    assert app.port is not None
    # A request that is never finished: its body is announced, and one byte sent.
    reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
    writer.write(
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    )
    await writer.drain()
    await asyncio.sleep(0.5)
    try:
        app.send(signal.SIGTERM)
        assert app.wait_for_output("Waiting for connections to close", 10), app.output()[-2000:]
        # The first shutdown waits for the request (up to GRACEFUL_SHUTDOWN_S) ...
        assert await wait_exit(app, 1.5) is None, "did not wait for the open request"
        signalled = time.monotonic()
        app.send(signal.SIGTERM)
        # ... the second one does not.
        code = await wait_exit(app, 3)
        took = time.monotonic() - signalled
    finally:
        writer.close()
    assert code is not None, f"still running 3 s after the second SIGTERM:\n{app.output()[-3000:]}"
    assert took < GRACEFUL_SHUTDOWN_S / 2
    assert code != 0, "a forced stop is not a clean one"
    assert "shutdown.forced" in app.output()
    del reader
