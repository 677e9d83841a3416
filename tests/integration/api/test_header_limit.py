"""`ailawyer serve` refuses request heads over 64 KiB and closes the connection.

Raw sockets, because an HTTP client would refuse to send such requests or hide
how the server ended the connection. Both HTTP implementations `ailawyer serve`
may choose are run: httptools (installed with uvicorn[standard]) and h11 (the
fallback without it: a `httptools` that cannot be imported comes first on the
path).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from pathlib import Path

import pytest

from tests.fixtures.processes import REPO_ROOT, ChildProcess, Processes, production

pytestmark = pytest.mark.slow

KIB = 1024
LIMIT = 64 * KIB
REFUSED = (400, 431)


async def exchange(
    port: int, head: bytes, *, until_closed: bool = False, timeout: float = 15
) -> tuple[list[int], bool]:
    """Send `head`; read until the server closes, or until an answer that keeps the
    connection open. Returns the statuses answered and whether the server closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(timeout):
            try:
                writer.write(head)
                await writer.drain()
            except ConnectionError:
                pass  # the server stopped reading and closed: what a refusal may look like
            received = b""
            closed = False
            try:
                while True:
                    chunk = await reader.read(65536)
                    if not chunk:
                        closed = True
                        break
                    received += chunk
                    if until_closed or b"\r\n\r\n" not in received:
                        continue
                    if b"connection: close" not in received.lower():
                        break  # an answer that keeps the connection open
            except ConnectionError:
                closed = True
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", received)]
    return statuses, closed


def request(*headers: tuple[str, str], path: str = "/api/health/live") -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{n}: {v}" for n, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def assert_limits(app: ChildProcess) -> None:
    assert app.port is not None
    # Below the limit: answered as usual, the connection stays open.
    assert await exchange(app.port, request(("X-Pad", "a" * (60 * KIB)))) == ([200], False)
    refusals = {
        "one 70 KiB header": request(("X-Big", "a" * (70 * KIB))),
        "1000 headers of 100 bytes": request(*((f"X-H{n}", "b" * 90) for n in range(1000))),
        "a 70 KiB path": request(path="/api/health/live?" + "q" * (70 * KIB)),
        "one 8 MiB header": request(("X-Huge", "c" * (8 * KIB * KIB))),
    }
    for name, head in refusals.items():
        started = time.monotonic()
        statuses, closed = await exchange(app.port, head)
        assert closed, f"{name}: connection left open (answered {statuses})"
        # The 8 MiB one may be cut off before the refusal is read (a reset).
        assert statuses in ([status] for status in REFUSED) or (
            name == "one 8 MiB header" and not statuses
        ), f"{name}: answered {statuses}"
        assert time.monotonic() - started < 10, name
    # A second request on a kept-alive connection is held to the same limit.
    statuses, closed = await exchange(
        app.port, request() + request(("X-Big", "d" * (70 * KIB))), until_closed=True
    )
    assert closed and statuses[0] == 200 and statuses[1:] in ([400], [431]), statuses
    # The process is unharmed.
    assert await exchange(app.port, request()) == ([200], False)


def http_implementation(app: ChildProcess) -> str:
    for line in app.output().splitlines():
        if line.startswith("{") and json.loads(line).get("message") == "serve.starting":
            return str(json.loads(line)["http"])
    raise AssertionError("no serve.starting line")


def serve_in_production(processes: Processes, **overrides: str) -> ChildProcess:
    """Production mode, as in a deployment (JSON lines; log files in the test's folder)."""
    return processes.serve(**production(processes.directory / "files"), **overrides)


async def test_serve_refuses_heads_over_64_kib(processes: Processes) -> None:
    app = serve_in_production(processes)
    await assert_limits(app)
    assert http_implementation(app) == "httptools"


async def test_serve_without_httptools_refuses_them_too(
    processes: Processes, tmp_path: Path
) -> None:
    shim = tmp_path / "no-httptools"
    (shim / "httptools").mkdir(parents=True)
    (shim / "httptools" / "__init__.py").write_text("raise ImportError('not installed here')\n")
    app = serve_in_production(processes, PYTHONPATH=f"{shim}:{REPO_ROOT}")
    await assert_limits(app)
    assert http_implementation(app) == "h11"
