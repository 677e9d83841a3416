"""Every process's end of the deployment's settings channel (app and worker alike;
`settings:changed` for the default deployment, see `ailawyer.deployment`).

Every (re)subscription re-reads the settings from the database: a change
published while this process was disconnected from Redis would otherwise be
lost (pub/sub keeps nothing). The redis client reconnects and resubscribes by
itself; the server's `subscribe` confirmation that follows each reconnect is our
signal to reload. The database is the truth for runtime settings: once it has
been read, a stored `log.level` wins over LOG_LEVEL.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis.asyncio import Redis

from ailawyer.db.engine import Database
from ailawyer.logs import create_logger
from ailawyer.services.settings import apply_all, apply_message

log = create_logger("settings.listener")

POLL_S = 5.0  # wake this often to health-check the connection and retry a failed reload
RELOAD_RETRY_S = 10.0
RESUBSCRIBE_DELAY_S = 1.0


class SettingsListener:
    def __init__(self, redis: Redis, database: Database, *, channel: str) -> None:
        self.redis = redis
        self.database = database
        self.channel = channel
        self.subscriptions = 0
        # Set on the first subscription: a starting process may wait for it, so a
        # change published right after its start is not missed.
        self.subscribed = asyncio.Event()
        self._reload_due: float | None = None

    async def run(self) -> None:
        """Listen until cancelled. Errors are logged; the loop subscribes again."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    while True:
                        message = await pubsub.get_message(timeout=POLL_S)
                        if message is not None:
                            await self._handle(message)
                        if self._reload_due is not None and time.monotonic() >= self._reload_due:
                            await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("settings.subscription_lost", error=type(exc).__name__)
                await asyncio.sleep(RESUBSCRIBE_DELAY_S)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "subscribe":
            self.subscriptions += 1
            log.info("settings.subscribed", channel=self.channel, count=self.subscriptions)
            await self.reload()
            self.subscribed.set()
        elif kind == "message":
            apply_message(message.get("data") or "")

    async def reload(self) -> None:
        """Apply every stored setting; on a database error try again a little later."""
        try:
            async with self.database.session() as session:
                await apply_all(session)
        except Exception as exc:
            self._reload_due = time.monotonic() + RELOAD_RETRY_S
            log.error("settings.reload_failed", error=type(exc).__name__)
        else:
            self._reload_due = None
            log.info("settings.reloaded")
