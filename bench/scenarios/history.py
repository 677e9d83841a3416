"""(7) The notification list against a long history: `GET /api/notifications`
for one user with 1,000, 100,000 and 1,000,000 notifications, two thirds unread.

The rows go in with one `INSERT … SELECT generate_series` per step (a million
in about 15 s; through the API it would take hours), each step adding newer
ones on top of the last. Then `VACUUM ANALYZE`, as autovacuum would have done
on a table that grew over months: statistics for the planner, and a visibility
map for index-only scans; then a CHECKPOINT, so the inserted pages are not
written out during the measurement.

At each size wrk asks one connection at a time (the latency one user sees,
not a queue of ten), `runs` times: the newest page (the default 20, as the
notification centre loads it) and the unread-only page of 100 that the page
fetches on every (re)connect. Each measurement is paired with the same request
by a second user who always has 1,000 notifications, right before or after it
(taking turns): the ratio of the two is the cost of the history, with the
machine's load divided out.
"""

from __future__ import annotations

import asyncpg

from bench.context import Context
from bench.cpu import cpu_seconds
from bench.scenarios.api import wrk
from bench.stack import Session

CONTROL_SIZE = 1_000

_INSERT = """
INSERT INTO notifications (id, user_id, type, title, message, data, read, dismissed, created_at)
SELECT $4 || lpad(g::text, 20, '0'), $1, 'job:completed', 'Vorgang abgeschlossen',
       '„Bench“ wurde erfolgreich abgeschlossen.',
       json_build_object('jobId', 'bench-' || g, 'queue', 'bench'),
       g % 3 = 0, false, timestamptz '2026-01-01' + g * interval '1 second'
FROM generate_series($2::bigint, $3::bigint) AS g
"""

PATHS = (
    ("page", "GET /api/notifications", "/api/notifications"),
    (
        "unread",
        "GET /api/notifications?unreadOnly&limit=100",
        "/api/notifications?unreadOnly=true&limit=100",
    ),
)


async def grow(database_url: str, user_id: str, id_prefix: str, have: int, want: int) -> None:
    """Give the user notifications `have + 1 … want` (every third read)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(_INSERT, user_id, have + 1, want, id_prefix)
        await conn.execute("VACUUM ANALYZE notifications")
        # Write the inserted pages out now, not as a checkpoint during the measurement.
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


def _env(session: Session) -> dict[str, str]:
    return {"BENCH_METHOD": "GET", "BENCH_COOKIE": session.cookie, "BENCH_CSRF": session.csrf}


async def run(ctx: Context) -> None:
    stack, config = ctx.stack, ctx.config
    assert ctx.app is not None and stack.database_url is not None
    app_pid = ctx.app.pid
    big, control = stack.users["history"], stack.users["history_control"]
    envs = {
        "big": _env(await stack.login("history")),
        "control": _env(await stack.login("history_control")),
    }
    await grow(stack.database_url, control.id, "hc", 0, CONTROL_SIZE)
    have = 0
    for size in config.history_sizes:
        await grow(stack.database_url, big.id, "hb", have, size)
        have = size
        for round_index in range(config.runs):
            # Whichever goes first is a little slower here: take turns.
            order = ("big", "control") if round_index % 2 == 0 else ("control", "big")
            for key, label, path in PATHS:
                measured, cpu_ms = {}, 0.0
                for who in order:
                    cpu_before = cpu_seconds(app_pid)
                    measured[who] = await wrk(
                        stack.app_url + path, config.api_seconds, 1, envs[who]
                    )
                    if who == "big":
                        requests = max(measured[who].requests, 1)
                        cpu_ms = (cpu_seconds(app_pid) - cpu_before) * 1000 / requests
                result, beside = measured["big"], measured["control"]
                name = f"{label}, {size:,} notifications, 1 connection"
                add = ctx.results.add
                add(f"history.{key}.{size}.p50", f"{name}, p50", "ms", result.p50)
                add(f"history.{key}.{size}.p99", f"{name}, p99", "ms", result.p99)
                add(f"cpu.history.{key}.{size}", f"app CPU per request, {name}", "ms", cpu_ms)
                add(
                    f"history.{key}.{size}.control.p50",
                    f"{label}, {CONTROL_SIZE:,} notifications beside {size:,}, p50",
                    "ms",
                    beside.p50,
                )
                add(
                    f"history.{key}.{size}.ratio",
                    f"{label} p50, {size:,} / {CONTROL_SIZE:,} notifications",
                    "x",
                    result.p50 / beside.p50,
                )
