"""The last 24 hours of `/api/health`: one sample every 30 s in a capped Redis stream.

The app takes the samples (docs/operations.md, "System page", says why the app
and not a worker schedule): every app process runs `sample_forever` for its
lifetime, and the first one to claim a tick (SET NX with a TTL just under the
interval) writes it, so two app processes do not write two samples. Each
sample is one stream entry, `s` = `{"postgres": ["healthy", 3], ...}` (status
and latency in ms), with the entry's id as its time. XADD caps the stream at
about a day of samples plus a margin (`MAXLEN ~`), so it never grows beyond
that however long the deployment runs; Redis trims whole macro nodes, which is
why the cap is approximate and the reader cuts at 24 hours itself.

The key is the deployment's (`ailawyer:{prefix}:health:history`, in its
database). A sample that cannot be written (Redis away) is a gap, which the
page shows grey: nothing was measured then.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ailawyer.api.health import CheckResult, HealthChecks
from ailawyer.deployment import Deployment
from ailawyer.logs import create_logger

log = create_logger("api.health_history")

DAY_MS: Final = 86_400_000
# Entries kept beyond a day's worth: the cap is approximate, and a restart or a
# second app may add a few.
MARGIN: Final = 120
MIN_BUCKET_S: Final = 30
MAX_BUCKET_S: Final = 3600
# Read per request at most this many entries (a day at the shortest interval is 86 400).
MAX_READ: Final = 100_000


def history_key(deployment: Deployment) -> str:
    return deployment.key("health", "history")


def tick_key(deployment: Deployment) -> str:
    """Held by the app process that takes the current tick's sample."""
    return deployment.key("health", "tick")


def max_entries(interval_s: float) -> int:
    """A day of samples at `interval_s`, plus the margin (2880 + 120 at 30 s)."""
    return math.ceil(DAY_MS / 1000 / interval_s) + MARGIN


def encode_sample(results: Mapping[str, CheckResult]) -> str:
    return json.dumps(
        {name: [result.status, result.latency_ms] for name, result in results.items()},
        separators=(",", ":"),
    )


def window(now_ms: int, bucket_s: int) -> tuple[int, int]:
    """The first bucket's start and how many buckets cover the day up to `now_ms`."""
    bucket_ms = bucket_s * 1000
    count = math.ceil(DAY_MS / bucket_ms)
    return now_ms - count * bucket_ms, count


@dataclass(frozen=True)
class Bucket:
    """How many samples of one service fell into one time span, by status."""

    start: int
    healthy: int = 0
    unhealthy: int = 0
    not_configured: int = 0
    max_latency: int = 0


class HealthHistory:
    """Write and read one deployment's health stream."""

    def __init__(self, redis: Redis, deployment: Deployment, interval_s: float) -> None:
        self.redis = redis
        self.deployment = deployment
        self.interval_s = interval_s
        self.key = history_key(deployment)
        self.maxlen = max_entries(interval_s)

    async def claim_tick(self) -> bool:
        """Whether this process takes this tick's sample (no other app did)."""
        ttl_ms = max(int(self.interval_s * 1000) - 500, 100)
        claimed = await self.redis.set(tick_key(self.deployment), b"1", nx=True, px=ttl_ms)
        return bool(claimed)

    async def append(self, results: Mapping[str, CheckResult]) -> str:
        """Add one sample now; returns its stream id."""
        entry_id = await self.redis.xadd(
            self.key, {"s": encode_sample(results)}, maxlen=self.maxlen, approximate=True
        )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def record(self, checks: HealthChecks) -> bool:
        """Take and store a sample if this tick is ours. Whether one was written."""
        if not await self.claim_tick():
            return False
        results = {"app": CheckResult("healthy", 0), **(await checks.run())}
        await self.append(results)
        return True

    async def sample_forever(self, checks: HealthChecks) -> None:
        """One sample per interval until cancelled; a failure is a logged gap."""
        while True:
            started = time.monotonic()
            try:
                async with asyncio.timeout(max(self.interval_s, 5)):
                    await self.record(checks)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("health.history_write_failed", error=type(exc).__name__)
            except Exception:  # a bug here must not end the sampling
                log.exception("health.history_crashed")
            await asyncio.sleep(max(self.interval_s - (time.monotonic() - started), 0.1))

    async def read(self, *, now_ms: int, bucket_s: int) -> dict[str, list[Bucket]]:
        """The last 24 hours per service, in buckets of `bucket_s` seconds, oldest
        first; every bucket is listed, a bucket without samples has zero counts."""
        first, count = window(now_ms, bucket_s)
        bucket_ms = bucket_s * 1000
        entries = await self.redis.xrange(self.key, min=str(first), max="+", count=MAX_READ)
        tallies: dict[str, list[list[int]]] = {}
        for entry_id, fields in entries or ():
            if entry_id is None or fields is None:
                continue
            raw_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            index = min((int(raw_id.split("-")[0]) - first) // bucket_ms, count - 1)
            if index < 0:
                continue
            for name, status, latency in _parse(fields):
                rows = tallies.setdefault(name, [[0, 0, 0, 0] for _ in range(count)])
                row = rows[index]
                row[{"healthy": 0, "unhealthy": 1}.get(status, 2)] += 1
                row[3] = max(row[3], latency)
        return {
            name: [
                Bucket(first + i * bucket_ms, row[0], row[1], row[2], row[3])
                for i, row in enumerate(rows)
            ]
            for name, rows in tallies.items()
        }


def _parse(fields: Mapping[bytes | str, bytes | str]) -> list[tuple[str, str, int]]:
    """An entry's samples; an entry that is not ours (or damaged) has none."""
    raw = fields.get(b"s", fields.get("s"))
    try:
        decoded = json.loads(raw) if raw is not None else {}
    except ValueError:
        return []
    if not isinstance(decoded, dict):
        return []
    found = []
    for name, value in decoded.items():
        if (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], str)
            and isinstance(value[1], int)
        ):
            found.append((str(name), value[0], value[1]))
    return found
