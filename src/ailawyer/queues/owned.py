"""The unfinished jobs each user owns, so that their owner finds them however
long the queues are.

Reading the queues for a user's jobs (`queues.jobs.active_jobs`) looks at the
first `ACTIVE_SCAN_LIMIT` jobs of each queue and state: behind a backlog of
other people's jobs, a user's own would not be listed. So the producer records
each job it adds for a user in a sorted set of that user's jobs, in the
deployment's database:

- `ailawyer:{prefix}:owned:{userId}`: members `["queue","jobId"]` (JSON), each
  scored by when its job is due (added, plus its delay; ms);
- written before the job is added (`Recorder.record`, one script call): if
  the add then fails, the member names no job and the next reader drops it; if
  the write fails, nothing was added;
- each write trims members due more than `KEEP_S` ago and keeps the key alive
  until at least `KEEP_S` after the latest due job (the TTL only ever grows);
- the reader (`queues.jobs.active_jobs`, through `owned` and `forget`) reads
  the newest `READ_LIMIT` members and drops those whose job is gone or
  completed. A failed job stays (a retry runs it again under its id) until the
  queue removes it or it ages out.

A job another producer added (a Node program) is not in it: `active_jobs` still
reads the queues' heads for those.
"""

from __future__ import annotations

import json
import time
from typing import Final, cast

from redis.asyncio import Redis

from ailawyer.deployment import Deployment

KEEP_S: Final = 30 * 24 * 3600
# Per user and request, at most this many of their newest jobs are looked at.
READ_LIMIT: Final = 1000


def owned_key(prefix: str, user_id: str) -> str:
    # The key needs only the prefix: it lives in the connection's database.
    return Deployment(prefix=prefix).key("owned", user_id)


def _member(queue: str, job_id: str) -> str:
    return json.dumps([queue, job_id], separators=(",", ":"), ensure_ascii=False)


def _parse(member: bytes | str) -> tuple[str, str] | None:
    try:
        value = json.loads(member)
    except ValueError:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(part, str) and part for part in value)
    ):
        return value[0], value[1]
    return None


# KEYS: the user's index. ARGV: member, when it is due (ms), trim what was due
# before this (ms), the TTL the index needs at least (s).
_RECORD: Final = """
redis.call("ZADD", KEYS[1], ARGV[2], ARGV[1])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", "(" .. ARGV[3])
if redis.call("TTL", KEYS[1]) < tonumber(ARGV[4]) then
  redis.call("EXPIRE", KEYS[1], ARGV[4])
end
return 1
"""


class Recorder:
    """Notes jobs in their owners' indexes: one script call per job, cheaper in
    the app than a pipeline of the four commands (bench/README, sixth round)."""

    def __init__(self, connection: Redis, prefix: str) -> None:
        self._script = connection.register_script(_RECORD)
        self._prefix = prefix

    async def record(self, user_id: str, queue: str, job_id: str, delay_ms: int = 0) -> None:
        """Note that `user_id` owns the job about to be added."""
        now = int(time.time() * 1000)
        due = now + max(delay_ms, 0)
        ttl_s = (due - now) // 1000 + KEEP_S
        await self._script(
            keys=[owned_key(self._prefix, user_id)],
            args=[_member(queue, job_id), due, now - KEEP_S * 1000, ttl_s],
        )


async def owned(connection: Redis, prefix: str, user_id: str) -> list[tuple[str, str]]:
    """The (queue, job id) pairs the index holds for `user_id`, newest first; a
    member that is not such a pair is dropped."""
    key = owned_key(prefix, user_id)
    members = cast(list[bytes], await connection.zrevrange(key, 0, READ_LIMIT - 1))
    pairs = [(member, _parse(member)) for member in members]
    broken = [member for member, pair in pairs if pair is None]
    if broken:
        await connection.zrem(key, *broken)
    return [pair for _, pair in pairs if pair is not None]


async def forget(
    connection: Redis, prefix: str, user_id: str, pairs: list[tuple[str, str]]
) -> None:
    """Drop jobs from `user_id`'s index (gone, completed, or of no queue of ours)."""
    if pairs:
        await connection.zrem(
            owned_key(prefix, user_id), *(_member(queue, job_id) for queue, job_id in pairs)
        )
