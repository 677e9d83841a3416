"""Keep the garbage collector's full passes rare and short in long-running processes.

App and worker import a large object graph (SQLAlchemy, pydantic, FastAPI,
python-socketio): about 150,000 tracked objects, which a full (generation 2)
collection walks in 50-100 ms on this kind of machine, stopping the event loop
meanwhile. Such a pause lands on whatever job or request is running and makes
the slow tail of every latency. Those objects live as long as the process, so
once the process has started they are moved to the permanent generation
(`gc.freeze`): full collections then walk only what was made since.

What is made since can still be a lot: 1,000 connected browsers are about
250,000 tracked objects in the app, a full pass over them 200 ms. CPython runs
one whenever the objects promoted into the oldest generation since the last one
reach a quarter of it, and it counts promotions even of objects that die soon
after. With the default young threshold (700 allocations) every fan-out promotes
the packets still in flight at each young collection, and the app stopped for
200 ms every 16 s under a one-emit-a-second load. At `YOUNG_THRESHOLD` young
collections are 14 times rarer, most of those objects are gone before one runs,
and no full pass happened in that load at all (`bench/README.md`, "Fourth round").
"""

from __future__ import annotations

import gc

# Allocations (minus deallocations) of tracked objects between young collections;
# CPython's default is 700. A young pass over this many objects takes about a
# millisecond here.
YOUNG_THRESHOLD = 10_000


def freeze_startup_heap() -> int:
    """Collect once, freeze what survives, raise the young threshold; returns how
    many objects were frozen."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    return gc.get_freeze_count()
