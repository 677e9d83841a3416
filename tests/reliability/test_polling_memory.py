"""Oversized Socket.IO long-polling POSTs: answered at once, and nothing is kept.

Engine.IO refuses a POST over its 16 KiB payload limit by closing the session,
and that close waits for the client to fetch its close packet: a client that
never polls again held its request (and the buffered body) for ever. Anyone
could open a polling session without a login and pin the app's memory that way.
The body limit under `/socket.io/` now answers 413 before Engine.IO sees the
body: at once for a declared Content-Length, after 16 KiB for a chunked one.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.processes import Processes, json_lines
from tests.reliability.support import SecretWatch

pytestmark = pytest.mark.slow

SESSIONS = 10
POSTS = 50
ANSWER_WITHIN_S = 2.0
RSS_SLACK_KB = 10 * 1024


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def chunks(size: int) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked), 64 KiB at a time."""
    sent = 0
    while sent < size:
        part = min(65_536, size - sent)
        sent += part
        yield b"4" + b"x" * (part - 1)


async def open_session(client: httpx.AsyncClient) -> str:
    opened = await client.get("/socket.io/?EIO=4&transport=polling")
    assert opened.status_code == 200, opened.text
    sid: str = json.loads(opened.text[1:])["sid"]
    return sid


async def test_oversized_polling_posts_are_answered_at_once_and_freed(
    processes: Processes, watch: SecretWatch
) -> None:
    app = processes.serve()
    assert app.process is not None
    pid = app.process.pid
    rng = random.Random(4711)
    async with httpx.AsyncClient(base_url=app.url, timeout=30, trust_env=False) as client:
        # Warm up: what a first request of each kind allocates is not the leak.
        sid = await open_session(client)
        await client.post(f"/socket.io/?EIO=4&transport=polling&sid={sid}", content=b"4" * 20_000)
        await asyncio.sleep(1)
        before = rss_kb(pid)

        sids = [await open_session(client) for _ in range(SESSIONS)]

        async def oversized(index: int) -> tuple[int, float]:
            size = rng.randint(16 * 1024 + 1, 1024 * 1024)
            url = f"/socket.io/?EIO=4&transport=polling&sid={sids[index % SESSIONS]}"
            body: Any = chunks(size) if index % 2 else b"4" + b"x" * (size - 1)
            started = time.monotonic()
            response = await client.post(url, content=body)
            return response.status_code, time.monotonic() - started

        answers = await asyncio.gather(*(oversized(i) for i in range(POSTS)))
        await asyncio.sleep(1)
        after = rss_kb(pid)

    assert [status for status, _ in answers] == [413] * POSTS
    assert max(took for _, took in answers) < ANSWER_WITHIN_S
    assert after - before < RSS_SLACK_KB, f"RSS grew by {after - before} KiB"

    # Nothing is left open at shutdown: a prompt, clean exit, no 500, no error.
    assert app.process is not None
    app.process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = app.process.wait(30)
    assert code == 0
    assert time.monotonic() - started < 10
    lines = [line for path in watch.directory.glob("*.log") for line in json_lines(path)]
    assert [line for line in lines if line.get("status") == 500] == []
    assert [line for line in lines if line.get("level") in ("error", "fatal")] == []
    assert not any("graceful shutdown exceeded" in str(line.get("message")) for line in lines)
