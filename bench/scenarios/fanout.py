"""(5) Socket.IO fan-out: one emit to a role room, delivered to every connected client.

`fanout_clients` clients (all sessions of the `listener` user, so all in
`role:SACHBEARBEITER`) are spread over `fanout_processes` client processes and
connected to one `ailawyer serve`. The harness emits with the product's
write-only emitter (`SocketEmitter.to_role`), as the worker does; each client
notes `time.time()` on arrival minus the `sentAt` the emit carried. Emits are
spaced (1 s) so one fan-out is over before the next starts; the app's CPU time
per emit comes from /proc.
"""

from __future__ import annotations

import asyncio
import json
import time

from ailawyer.deployment import Deployment
from ailawyer.realtime.emitter import SocketEmitter
from bench.context import PRODUCT, Context
from bench.cpu import cpu_seconds
from bench.processes import Child
from bench.stats import latency_summary, percentile

EVENT = "bench:fanout"
# Far longer than one fan-out takes, so an emit never queues behind the previous one.
SPACING_S = 1.0
CONNECT_TIMEOUT_S = 180.0


async def run(ctx: Context) -> None:
    stack, config = ctx.stack, ctx.config
    session = await stack.login("listener")
    per_process = -(-config.fanout_clients // config.fanout_processes)
    total_emits = config.fanout_emits * config.runs
    outputs = [stack.root / f"fanout-{i}.json" for i in range(config.fanout_processes)]
    clients: list[Child] = []
    for index, out in enumerate(outputs):
        count = min(per_process, config.fanout_clients - index * per_process)
        clients.append(
            stack.spawn(
                f"fanout-{index}",
                [
                    "bench.fanout_client",
                    "--url",
                    stack.app_url,
                    "--cookie",
                    session.cookie,
                    "--clients",
                    str(count),
                    "--expect",
                    str(total_emits),
                    "--out",
                    str(out),
                ],
            )
        )
    # On the app's deployment channel: the app hears no other (docs/realtime.md).
    channel = Deployment.of(stack.redis_url, ctx.prefix(PRODUCT)).socketio_channel
    emitter = SocketEmitter(stack.redis_url, channel=channel)
    try:
        for client in clients:
            await client.wait_for_output("connected", CONNECT_TIMEOUT_S)
        await asyncio.sleep(1.0)  # let connection-time work settle
        assert ctx.app is not None
        cpu_before = cpu_seconds(ctx.app.pid)
        for seq in range(total_emits):
            await emitter.to_role(session.user.role, EVENT, {"seq": seq, "sentAt": time.time()})
            await asyncio.sleep(SPACING_S)
        app_cpu_ms = (cpu_seconds(ctx.app.pid) - cpu_before) * 1000 / total_emits
        for client in clients:
            await client.wait_for_output("done", 60.0)
    finally:
        await emitter.close()
        for client in clients:
            await stack.stop(client)
    delays: dict[int, list[float]] = {}
    for out in outputs:
        for seq, delay in json.loads(out.read_text()):
            delays.setdefault(seq, []).append(delay)
    for run_index in range(config.runs):
        seqs = range(run_index * config.fanout_emits, (run_index + 1) * config.fanout_emits)
        samples = [delay for seq in seqs for delay in delays.get(seq, [])]
        expected = config.fanout_emits * config.fanout_clients
        summary = latency_summary(samples)
        last = [max(delays[seq]) * 1000 for seq in seqs if seq in delays]
        label = f"fan-out to {config.fanout_clients} clients"
        ctx.results.add("fanout.p50", f"{label}, delivery p50", "ms", summary["p50"])
        ctx.results.add("fanout.p99", f"{label}, delivery p99", "ms", summary["p99"])
        ctx.results.add(
            "fanout.last", f"{label}, last client (median per emit)", "ms", percentile(last, 50)
        )
        ctx.results.add(
            "fanout.delivered", f"{label}, share delivered", "%", 100 * len(samples) / expected
        )
    ctx.results.add(
        "cpu.fanout.app", f"app CPU per emit to {config.fanout_clients} clients", "ms", app_cpu_ms
    )
