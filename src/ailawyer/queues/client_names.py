"""The connection names of our BullMQ workers, as Node BullMQ looks for them.

Node's `Queue.getWorkers()` (and so Bull Board's Workers tab) lists the
clients of CLIENT LIST named `{prefix}:{base64(queue)}`, alone or followed by
`:w:{worker name}` (`queue-base.ts` `clientName`, `queue-getters.ts`
`getWorkers`). The Python port names its connections `{prefix}:{queue}`
instead, which Node never matches; so our workers name theirs Node's way, with
the worker id as the worker name. The prefix keeps the name scoped to the
deployment (the health check also matches the database, `api.health`).
"""

from __future__ import annotations

import base64


def node_client_name(prefix: str, queue: str, worker_name: str | None = None) -> str:
    """`{prefix}:{base64(queue)}[:w:{worker_name}]`, Node BullMQ's `clientName`."""
    encoded = base64.b64encode(queue.encode()).decode()
    name = f"{prefix}:{encoded}"
    return f"{name}:w:{worker_name}" if worker_name else name
