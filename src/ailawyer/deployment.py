"""What one deployment is in a shared Redis server, and the names it uses there.

A deployment is one Redis database plus one BullMQ prefix. Several of them (a
staging and a production install, or the test suite beside `make run`) may share
one Redis server, and must never hear or count each other:

- keys live in the database, and every key of ours also carries the prefix
  (`ailawyer:{prefix}:…`), as BullMQ's own keys do (`{prefix}:{queue}:…`);
- pub/sub channels ignore the database number (one namespace per server), so a
  channel names both: `settings:changed:{db}:{prefix}`. The default deployment
  (db 0, prefix `bull`) keeps the plain names `settings:changed` and `socketio`;
- `CLIENT LIST` spans every database, so a presence check matches the db too.

This module is the one home of those names (docs/configuration.md lists them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urlsplit

DEFAULT_PREFIX: Final = "bull"
SETTINGS_CHANNEL: Final = "settings:changed"
SOCKETIO_CHANNEL: Final = "socketio"
SESSIONS_CHANNEL: Final = "ailawyer:sessions"
CANCEL_CHANNEL: Final = "ailawyer:cancel"
_SENTINEL_SCHEMES: Final = ("redis+sentinel", "rediss+sentinel")


def redis_db(url: str) -> int:
    """The database number a Redis URL selects (0 when it names none).

    `redis://host:port/N`, `?db=N` (also for `unix://`), and the Sentinel form
    `redis+sentinel://host:port[,host:port]/N/master`.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query).get("db")
    if query:
        return int(query[0])
    if parts.scheme == "unix":
        return 0
    first = parts.path.strip("/").split("/", 1)[0]
    if parts.scheme in _SENTINEL_SCHEMES or parts.scheme in ("redis", "rediss"):
        return int(first) if first.isdigit() else 0
    return 0


@dataclass(frozen=True)
class Deployment:
    """One deployment's scope: `db` from REDIS_URL, `prefix` from BULLMQ_PREFIX."""

    db: int = 0
    prefix: str = DEFAULT_PREFIX

    @classmethod
    def of(cls, redis_url: str, prefix: str) -> Deployment:
        return cls(db=redis_db(redis_url), prefix=prefix)

    @property
    def is_default(self) -> bool:
        return self.db == 0 and self.prefix == DEFAULT_PREFIX

    def channel(self, name: str) -> str:
        """A pub/sub channel of this deployment (plain name for the default one)."""
        return name if self.is_default else f"{name}:{self.db}:{self.prefix}"

    @property
    def settings_channel(self) -> str:
        return self.channel(SETTINGS_CHANNEL)

    @property
    def socketio_channel(self) -> str:
        return self.channel(SOCKETIO_CHANNEL)

    @property
    def cancel_channel(self) -> str:
        """Active jobs to cancel (`{"queue", "jobId"}`), for whichever worker runs them."""
        return self.channel(CANCEL_CHANNEL)

    @property
    def sessions_channel(self) -> str:
        """Ids of sessions that ended (logout, deactivation): sockets on them close."""
        return self.channel(SESSIONS_CHANNEL)

    def key(self, *parts: str) -> str:
        """A Redis key of ours: `ailawyer:{prefix}:{part}:{part}…`."""
        return ":".join(("ailawyer", self.prefix, *parts))
