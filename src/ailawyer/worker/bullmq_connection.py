"""The Redis client one BullMQ `Worker` gets: its blocking wait apart, our retry policy.

(Not to be confused with `redis.get_worker_connection`, the worker process's own
never-give-up client for heartbeats and the settings channel; this module builds
BullMQ's connections from that client's settings.)

Given a connection *dict*, BullMQ builds two single-connection clients: one for
its commands (fetch, `moveToFinished`, lock renewals), one for the blocking
`BZPOPMIN` on the queue's marker. Given a client *instance*, it uses that one
instance for both. We must hand it an instance (a dict cannot carry our retry
policy: the worker's connections never give up, with our reconnect curve and
logging), and a plain pooled `Redis` made every fetch check a connection out
of the pool: at light load BullMQ sends up to `concurrency` fetches at once after
each job, each went out on a connection of its own, and the pickup of the next
job took 4-10 ms longer than bare BullMQ's (p50; measured with the benchmark's
latency scenario, the same worker given BullMQ's two dedicated connections
instead: 1.6-2.0 ms against 9-15 ms).

`BullMQWorkerRedis` gives BullMQ what its own layout has, with our settings: the
blocking `BZPOPMIN` on a connection of its own, and the commands on a small
bounded pool (`COMMAND_CONNECTIONS`; more concurrent commands wait for a free
connection). One command connection, as BullMQ builds from a dict, fixed the
pickup too (1.7 ms p50, bare BullMQ 1.8 in the same run) but halved the
throughput of a saturated worker: the notifications of a batch of jobs are
committed together, and their `moveToFinished` calls then queued on the one
connection. With four: pickup p50 2.0-3.6 ms, 429 jobs/s against bare BullMQ's
950 in the same run (before: 576 against 2,028). All connections come from the
settings of `get_worker_connection()`: never-give-up retry policy, reconnect
logging, client name (Node BullMQ's, see `queues.client_names`),
`socket_timeout=None`. Closing it closes them all.

With a Sentinel REDIS_URL the layout is the same, with Sentinel-managed pools
(`redis.bounded_pool`): the blocking connection comes from the factory client's
pool, the commands from a bounded pool that asks the same sentinels, so both
follow the primary through a failover.
"""

from __future__ import annotations

from typing import Any, Final

from redis.asyncio import Redis

from ailawyer.redis import bounded_pool, get_worker_connection
from ailawyer.redis_target import RedisTarget

# Connections for one worker's commands; more wait for a free one (never fail).
COMMAND_CONNECTIONS: Final = 4


class BullMQWorkerRedis(Redis):
    """Commands on a small bounded pool; `BZPOPMIN` on a dedicated connection of its own."""

    def __init__(self, base: Redis) -> None:
        super().__init__(connection_pool=bounded_pool(base, COMMAND_CONNECTIONS))
        self.auto_close_connection_pool = True
        self._base = base
        # BullMQ's marker wait; a connection of its own, from the factory's pool.
        self.blocking = Redis(connection_pool=base.connection_pool, single_connection_client=True)

    def bzpopmin(self, keys: Any, timeout: Any = 0) -> Any:
        # BullMQ's only blocking command: it must not hold the command connection.
        return self.blocking.bzpopmin(keys, timeout)

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        # BullMQ closes its two wrappers of this one client: closing twice is fine.
        await super().aclose()
        await self.blocking.aclose()
        await self._base.aclose()


def bullmq_worker_redis(
    url: str | RedisTarget | None = None, *, name: str = "ailawyer-worker"
) -> BullMQWorkerRedis:
    """The connection for one BullMQ `Worker` (never gives up, like the factory's).

    `name` is every connection's client name from the first connect on (the
    worker passes Node BullMQ's, `queues.client_names`)."""
    return BullMQWorkerRedis(get_worker_connection(url, name=name))
