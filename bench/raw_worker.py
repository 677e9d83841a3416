"""A bare BullMQ worker: the baseline the `ailawyer worker` is compared with.

    python -m bench.raw_worker --redis-url URL --prefix P --concurrency 50

Same queue name, job options and event loop (uvloop) as the product's worker, but
nothing around the processor: no validation, no notification, no logging. It
prints "ready" once BullMQ's fetch loop runs and stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from bullmq import Worker

from bench.queues import BENCH_QUEUE


async def noop(job: Any, token: str) -> dict[str, float]:
    return {"startedAt": time.time()}


async def run(redis_url: str, prefix: str, concurrency: int) -> None:
    parts = urlsplit(redis_url)
    connection = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 6379,
        # redis-py's default socket timeout (5 s) breaks BullMQ's blocking fetch.
        "socket_timeout": None,
    }
    worker = Worker(
        BENCH_QUEUE,
        noop,
        {"connection": connection, "prefix": prefix, "concurrency": concurrency, "autorun": False},
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(worker.run())
    while not worker.running:  # BullMQ offers no event for this
        await asyncio.sleep(0.01)
    print("ready", flush=True)
    await stop.wait()
    await worker.close()
    await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    factory = None
    if args.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(run(args.redis_url, args.prefix, args.concurrency))
    sys.exit(0)


if __name__ == "__main__":
    main()
