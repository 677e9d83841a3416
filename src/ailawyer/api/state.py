"""The app's state and its lifespan: what is opened at start and closed at the end.

`AppState` is the single owner of the process's connections. The lifespan opens
them in order, fails the start when Redis or the database does not answer (an
app that cannot enqueue or log anyone in should not report itself started), and
closes them in reverse order. Requests reach the state through
`api.deps.get_state` (Starlette copies the lifespan's dict into every request's
scope under `STATE_KEY`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ailawyer.api.health import HealthChecks
from ailawyer.api.health_history import HealthHistory
from ailawyer.api.metrics import Metrics
from ailawyer.config import Settings
from ailawyer.db.engine import Database
from ailawyer.errors import StartupError
from ailawyer.heap import freeze_startup_heap
from ailawyer.logs import create_logger
from ailawyer.pubsub import Subscription
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.registry import load_queues, load_schedules
from ailawyer.queues.schedules import ScheduleSpec
from ailawyer.realtime.access import create_socket_server
from ailawyer.realtime.server import SocketServer
from ailawyer.redis import create_redis_connection, get_queue_connection
from ailawyer.redis_checks import require_redis
from ailawyer.security import dummy_hash
from ailawyer.services import settings as settings_service
from ailawyer.services.auth import LoginRateLimiter
from ailawyer.services.session_cache import SessionCache
from ailawyer.tracing import queue_tracing

log = create_logger("api.state")

STATE_KEY: Final = "ailawyer"
STARTUP_CHECK_TIMEOUT_S: Final = 5.0
SUBSCRIBE_TIMEOUT_S: Final = 5.0


@dataclass
class AppState:
    settings: Settings
    redis: Redis
    database: Database
    producer: QueueProducer
    http: httpx.AsyncClient
    metrics: Metrics
    health: HealthChecks
    # The last day of `health`, sampled by this app (and any other) for the system page.
    health_history: HealthHistory
    login_limiter: LoginRateLimiter
    started_at: float
    # Declared schedules (ALL_SCHEDULES and the extra modules'): "Jetzt ausführen".
    schedules: tuple[ScheduleSpec, ...]
    # Socket.IO (realtime/): subscribed to the worker's emits while the app runs.
    socket: SocketServer
    # Verified sessions, for about a second, while the sessions channel is heard.
    sessions: SessionCache


async def _prepare_database(database: Database, settings: Settings) -> None:
    """Check the connection and store missing default settings (several app
    processes may start at once: a lost insert race is fine)."""
    try:
        async with asyncio.timeout(STARTUP_CHECK_TIMEOUT_S):
            async with database.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise StartupError(
            f"the database does not answer ({type(exc).__name__}); check DATABASE_URL"
        ) from None
    try:
        async with database.session() as session:
            added = await settings_service.seed_defaults(
                session, initial={"log.level": settings.log_level}
            )
        if added:
            log.info("settings.seeded", count=added)
    except IntegrityError:
        log.info("settings.seeded_elsewhere")
    except SQLAlchemyError as exc:
        raise StartupError(
            f"cannot read system settings ({type(exc).__name__}); "
            "has `ailawyer db upgrade` been run?"
        ) from None


@contextlib.asynccontextmanager
async def _control_channels(
    settings: Settings, database: Database, socket: SocketServer
) -> AsyncIterator[SessionCache]:
    """Follow the deployment's settings and sessions channels for the app's
    lifetime. After every (re)subscription the settings are re-read and the
    sockets' sessions checked again: pub/sub keeps nothing for a process that was
    away. Startup waits briefly for the first subscription, so a change made
    right after start is not missed. Yields the session cache, which trusts only
    what it stored while the subscription is up."""
    redis = create_redis_connection(
        max_retries_per_request=None, url=settings.redis, name="ailawyer-control"
    )
    reload_settings = settings_service.reloader(database)

    async def resync() -> None:
        await reload_settings()
        await socket.sweep()

    cache: SessionCache | None = None

    async def on_session_ended(raw: bytes | str) -> None:
        if cache is not None:
            cache.forget([raw.decode(errors="replace") if isinstance(raw, bytes) else raw])
        await socket.on_sessions_message(raw)

    deployment = settings.deployment
    subscription = Subscription(
        redis,
        {
            deployment.settings_channel: settings_service.on_message,
            deployment.sessions_channel: on_session_ended,
        },
        resync=resync,
    )
    cache = SessionCache(
        ttl_s=settings.session_cache_ttl_s,
        max_entries=settings.session_cache_size,
        epoch=subscription.live_epoch,
    )
    task = asyncio.create_task(subscription.run(), name="control-channels")
    try:
        # Not forever: a slow Redis must not stop the start; the listener keeps trying.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                await subscription.subscribed.wait()
        yield cache
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await redis.aclose()


@contextlib.asynccontextmanager
async def _sampling(history: HealthHistory, checks: HealthChecks) -> AsyncIterator[None]:
    """Sample the health checks into `history` while the app runs."""
    task = asyncio.create_task(history.sample_forever(checks), name="health-history")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def open_state(settings: Settings, metrics: Metrics) -> AsyncIterator[AppState]:
    """Open every connection of the app; close them in reverse order on exit."""
    async with contextlib.AsyncExitStack() as stack:
        redis = get_queue_connection(settings.redis)
        stack.push_async_callback(redis.aclose)
        await require_redis(redis, settings.redis, STARTUP_CHECK_TIMEOUT_S)

        database = Database(settings.effective_database_url)
        stack.push_async_callback(database.dispose)
        await _prepare_database(database, settings)

        specs = load_queues(settings.extra_queue_modules)
        schedules = load_schedules(settings.extra_queue_modules, specs)
        producer = QueueProducer(
            redis, specs, prefix=settings.bullmq_prefix, tracing=queue_tracing(settings)
        )
        stack.push_async_callback(producer.close)

        # Internal peers are reached directly, never through an HTTP proxy of the host.
        http = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        stack.push_async_callback(http.aclose)

        # Socket.IO: closed before the database it checks sessions against.
        socket = create_socket_server(settings, database)
        await socket.start()
        stack.push_async_callback(socket.close)

        sessions = await stack.enter_async_context(_control_channels(settings, database, socket))
        # Hash the dummy password now: computed at the first unknown-e-mail login,
        # it would make exactly that answer slower than a wrong-password one.
        await asyncio.to_thread(dummy_hash)

        health = HealthChecks(settings, database, producer, http)
        history = HealthHistory(
            redis, settings.deployment, interval_s=settings.health_history_interval_s
        )
        await stack.enter_async_context(_sampling(history, health))

        state = AppState(
            settings=settings,
            redis=redis,
            database=database,
            producer=producer,
            http=http,
            metrics=metrics,
            health=health,
            health_history=history,
            login_limiter=LoginRateLimiter(
                redis,
                deployment=settings.deployment,
                limit=settings.login_rate_limit,
                address_limit=settings.effective_login_address_limit,
                account_limit=settings.effective_login_account_limit,
                window_s=settings.login_rate_window_s,
                timeout_s=producer.timeout_s,
            ),
            started_at=time.monotonic(),
            schedules=schedules,
            socket=socket,
            sessions=sessions,
        )
        log.info(
            "app.started",
            queues=list(producer.queues),
            prefix=settings.bullmq_prefix,
            database=database.engine.dialect.name,
            frozenObjects=freeze_startup_heap(),
        )
        yield state
        log.info("app.stopping")


def lifespan_state(state: AppState) -> dict[str, Any]:
    """The dict the lifespan yields; Starlette hands a copy to every request."""
    return {STATE_KEY: state}
