"""Worker presence: the heartbeat each worker process keeps in Redis, and who reads it.

The worker writes it (`beat`, `stop_beating`); the app's health check and
`ailawyer worker --check` read it (`live_workers`, `worker_alive`). Besides
BullMQ's own registration (CLIENT LIST, which managed Redis services may
forbid), this is how they know a worker is alive. Both sides live here so the
layout is written down once:

- `ailawyer:{prefix}:worker:{workerId}`: the worker's record (JSON), with a TTL;
  a crashed worker's record expires by itself. Its fields: `workerId`, `host`,
  `pid`, `queues` (`name`, `concurrency`, `inFlight` each), `inFlight` (all
  queues), `startedAt` and `at` (the last beat; both Unix seconds), `version`
  (the product's). In-flight counts are as of the last beat (every TTL/3);
- `ailawyer:{prefix}:workers`: a sorted set of worker ids, scored by when their
  record expires. Reading it costs one command however many keys Redis holds
  (a SCAN over the keyspace grew with every stored job); ids whose score has
  passed are dropped by the next reader.

Both keys carry the deployment's prefix (and live in its database), so two
deployments on one Redis server never see each other's workers.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from typing import Any

from redis.asyncio import Redis

from ailawyer.deployment import Deployment
from ailawyer.redis import create_redis_connection
from ailawyer.redis_target import RedisTarget


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def record_key(deployment: Deployment, worker_id: str) -> str:
    return deployment.key("worker", worker_id)


def index_key(deployment: Deployment) -> str:
    return deployment.key("workers")


async def beat(
    redis: Redis, deployment: Deployment, worker_id: str, ttl_s: int, record: dict[str, Any]
) -> None:
    """Refresh this worker's record and its place in the index (one round trip)."""
    now = time.time()
    value = json.dumps({**record, "at": now})
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(record_key(deployment, worker_id), value, ex=ttl_s)
        pipe.zadd(index_key(deployment), {worker_id: now + ttl_s})
        # The index itself outlives its longest-lived member by a little.
        pipe.expire(index_key(deployment), ttl_s * 2)
        await pipe.execute()


async def stop_beating(redis: Redis, deployment: Deployment, worker_id: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(record_key(deployment, worker_id))
        pipe.zrem(index_key(deployment), worker_id)
        await pipe.execute()


async def live_workers(redis: Redis, deployment: Deployment) -> dict[str, dict[str, Any]]:
    """The records of workers whose heartbeat has not expired, by worker id."""
    index = index_key(deployment)
    now = time.time()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zremrangebyscore(index, "-inf", now)
        pipe.zrange(index, 0, -1)
        _, members = await pipe.execute()
    ids = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
    if not ids:
        return {}
    values = await redis.mget([record_key(deployment, worker_id) for worker_id in ids])
    found: dict[str, dict[str, Any]] = {}
    for worker_id, raw in zip(ids, values, strict=True):
        if raw is None:
            continue  # expired a moment ago
        try:
            record = json.loads(raw)
        except ValueError:
            record = {}
        found[worker_id] = record if isinstance(record, dict) else {}
    return found


async def worker_alive(
    redis_url: str | RedisTarget, deployment: Deployment, timeout_s: float = 3.0
) -> bool:
    """Whether any worker of this deployment has a fresh heartbeat (`worker --check`).

    Any failure to ask (Redis down, a timeout) counts as "no": a health check
    that cannot see the worker must not report it healthy.
    """
    client = create_redis_connection(
        max_retries_per_request=1, url=redis_url, name="ailawyer-check"
    )
    try:
        async with asyncio.timeout(timeout_s):
            return bool(await live_workers(client, deployment))
    except Exception:
        return False
    finally:
        await client.aclose()
