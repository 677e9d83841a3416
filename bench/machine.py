"""What the figures were measured on, and how busy the machine was."""

from __future__ import annotations

import asyncio
import os
import platform
import re
import shutil
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
from redis.asyncio import Redis
from tests.fixtures.services import PG_ADMIN_URL

_PING = re.compile(r"PING_MBULK: ([\d.]+) requests per second")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


async def describe(redis_url: str) -> dict[str, Any]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        redis_version = (await redis.info("server"))["redis_version"]
    finally:
        await redis.aclose()
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        pg_version = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "redis": redis_version,
        "postgresql": pg_version,
        "packages": {
            name: version(name)
            for name in (
                "bullmq",
                "redis",
                "hiredis",
                "uvloop",
                "python-socketio",
                "sqlalchemy",
                "asyncpg",
                "fastapi",
                "uvicorn",
            )
        },
    }


async def redis_round_trips(port: int, requests: int = 50_000) -> float:
    """Round trips/s of one client (redis-benchmark -c 1 PING): the machine's pace."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return float("nan")
    process = await asyncio.create_subprocess_exec(
        binary,
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-c",
        "1",
        "-n",
        str(requests),
        "-t",
        "ping",
        "-q",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    found = _PING.search(output.decode().replace("\r", "\n"))
    return float(found.group(1)) if found else float("nan")
