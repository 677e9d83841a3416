"""The worker's heartbeat: a key per worker process, refreshed well inside its TTL.

Besides BullMQ's own registration (CLIENT LIST, which managed Redis services
may forbid), this is how health checks and `ailawyer worker --check` know a
worker is alive. A crashed worker's key expires by itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time

from redis.asyncio import Redis

from ailawyer.redis import create_redis_connection

HEARTBEAT_PREFIX = "ailawyer:worker:heartbeat:"


def heartbeat_key(worker_id: str) -> str:
    return HEARTBEAT_PREFIX + worker_id


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


async def beat(redis: Redis, worker_id: str, ttl_s: int, queues: list[str]) -> None:
    value = json.dumps({"pid": os.getpid(), "queues": queues, "at": time.time()})
    await redis.set(heartbeat_key(worker_id), value, ex=ttl_s)


async def stop_beating(redis: Redis, worker_id: str) -> None:
    await redis.delete(heartbeat_key(worker_id))


async def live_workers(redis: Redis) -> list[str]:
    """Ids of workers whose heartbeat has not expired."""
    found: list[str] = []
    async for key in redis.scan_iter(match=HEARTBEAT_PREFIX + "*", count=100):
        name = key.decode() if isinstance(key, bytes) else str(key)
        found.append(name.removeprefix(HEARTBEAT_PREFIX))
    return found


async def worker_alive(redis_url: str, timeout_s: float = 3.0) -> bool:
    """Whether any worker's heartbeat is fresh (`ailawyer worker --check`).

    Any failure to ask (Redis down, a timeout) counts as "no": a health check
    that cannot see the worker must not report it healthy.
    """
    client = create_redis_connection(1, url=redis_url, name="ailawyer-check")
    try:
        async with asyncio.timeout(timeout_s):
            return bool(await live_workers(client))
    except Exception:
        return False
    finally:
        await client.aclose()
