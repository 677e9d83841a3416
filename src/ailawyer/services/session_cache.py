"""A short-lived, per-process memory of verified sessions.

Every authenticated request looks its session up in PostgreSQL (one statement,
but on a pooled connection: a checkout, a round trip, a result). A burst of
requests on one session (a page's API calls, a script enqueueing jobs) asks the
same question many times a second. This cache answers it from memory for at most
`ttl_s` (SESSION_CACHE_TTL, 1 s by default; 0 turns it off).

What keeps it honest:

- Every way a session stops being valid announces it on the deployment's
  sessions channel (logout, `ailawyer users deactivate`, which revokes the
  account's sessions); every app process forgets the session the moment the
  message arrives, so another process refuses it at once, not a TTL later.
- The cache trusts only what it stored while the subscription to that channel
  was up (`Subscription.live_epoch`). While Redis is away it neither answers nor
  stores, and after a reconnect everything stored before is void: a message
  published meanwhile is lost, so every request goes to the database again.
- A lookup that started before an invalidation arrived does not store its
  (possibly stale) answer: the generation counter moved.
- An entry never outlives its session's `expires_at`.

A change made straight in the database (an operator's UPDATE) is seen within
`ttl_s`. The size is bounded: when full, the oldest entry goes.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ailawyer.services.auth import Authenticated

# The current subscription's number while the sessions channel is heard, else None.
EpochProbe = Callable[[], int | None]


@dataclass(frozen=True, slots=True)
class _Entry:
    found: Authenticated
    deadline: float  # monotonic
    epoch: int


class SessionCache:
    def __init__(self, *, ttl_s: float, max_entries: int, epoch: EpochProbe) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._epoch = epoch
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._generation = 0
        # For metrics and tests.
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0 and self.max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, session_id: str) -> Authenticated | None:
        """The verified session, if it is cached, fresh, and the channel is heard."""
        entry = self._entries.get(session_id)
        if entry is None:
            self.misses += 1
            return None
        if entry.epoch != self._epoch() or time.monotonic() >= entry.deadline:
            del self._entries[session_id]
            self.misses += 1
            return None
        self.hits += 1
        return entry.found

    def generation(self) -> int:
        """Take before a database lookup; hand to `put` with its answer."""
        return self._generation

    def put(self, found: Authenticated, generation: int) -> None:
        """Remember a session verified by the database, unless an invalidation
        arrived since the lookup began or the channel is not heard right now."""
        if not self.enabled or generation != self._generation:
            return
        epoch = self._epoch()
        if epoch is None:
            return
        now = time.monotonic()
        # The session's own end, in monotonic time.
        left = found.session.expires_at.timestamp() - time.time()
        deadline = now + min(self.ttl_s, left)
        if deadline <= now:
            return
        entries = self._entries
        entries.pop(found.session.id, None)
        entries[found.session.id] = _Entry(found, deadline, epoch)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    def forget(self, session_ids: list[str]) -> None:
        """Sessions that ended: never answer them from memory again."""
        self._generation += 1
        for session_id in session_ids:
            self._entries.pop(session_id, None)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
