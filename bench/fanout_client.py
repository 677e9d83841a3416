"""Many Socket.IO clients in one process, for the fan-out scenario.

    python -m bench.fanout_client --url URL --cookie C --clients 250 --expect 60 --out F

Connects `--clients` clients (websocket transport, the session cookie of one
user), prints "connected <n>", then records for every `bench:fanout` event how
long after its `sentAt` (the emitter's `time.time()`) it arrived. Once every
client has `--expect` events (or `--timeout` passes) it writes the delays as
JSON to `--out` and disconnects.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import socketio

EVENT = "bench:fanout"
CONNECT_BATCH = 25


async def connect(url: str, cookie: str, record: list[tuple[int, float]]) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)

    async def on_event(data: Any) -> None:
        record.append((int(data["seq"]), time.time() - float(data["sentAt"])))

    client.on(EVENT, on_event)
    await client.connect(url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=30)
    return client


async def run(args: argparse.Namespace) -> None:
    records: list[list[tuple[int, float]]] = [[] for _ in range(args.clients)]
    clients: list[socketio.AsyncClient] = []
    for start in range(0, args.clients, CONNECT_BATCH):
        batch = range(start, min(start + CONNECT_BATCH, args.clients))
        clients += await asyncio.gather(
            *(connect(args.url, args.cookie, records[i]) for i in batch)
        )
    print(f"connected {len(clients)}", flush=True)
    deadline = time.monotonic() + args.timeout
    while any(len(r) < args.expect for r in records) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    Path(args.out).write_text(json.dumps([[seq, delay] for r in records for seq, delay in r]))
    await asyncio.gather(*(client.disconnect() for client in clients), return_exceptions=True)
    print("done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--cookie", required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=float, default=300.0)
    import uvloop

    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
