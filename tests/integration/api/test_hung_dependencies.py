"""`GET /api/health` with Redis or PostgreSQL hung: up, accepting connections,
never answering. The endpoint still answers within its bound (about 3 s with
the default 2 s check timeout), with that service `unhealthy`, again and again.

The real service sits behind a proxy (tests/fixtures/hang_proxy.py) that lets
the app start and then goes silent, for the connections already open (the
pools) and for new ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.fixtures.hang_proxy import HangingProxy
from tests.fixtures.processes import ChildProcess, Processes
from tests.fixtures.services import REDIS_URL

pytestmark = pytest.mark.slow

TIMEOUT_MS = "2000"  # HEALTH_CHECK_TIMEOUT_MS's default
BOUND_S = 3.5  # "about 3 s"
CALLS = 3


@pytest.fixture
def proxies(processes: Processes) -> Iterator[list[HangingProxy]]:
    """Stopped before `processes` stops the app: its connections end instead of hanging."""
    started: list[HangingProxy] = []
    yield started
    for proxy in started:
        proxy.stop()


def behind_proxy(url: str, proxies: list[HangingProxy]) -> tuple[str, HangingProxy]:
    parts = urlsplit(url)
    proxy = HangingProxy(parts.hostname or "127.0.0.1", parts.port or 0).start()
    proxies.append(proxy)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    proxied = f"{netloc[0]}@{host}" if len(netloc) == 2 else host
    return urlunsplit(parts._replace(netloc=proxied)), proxy


async def health(app: ChildProcess) -> tuple[int, dict[str, Any], float]:
    async with app.client() as client:
        started = time.monotonic()
        response = await client.get("/api/health", timeout=30)
        return response.status_code, response.json(), time.monotonic() - started


async def assert_hung(app: ChildProcess, service: str, other: str) -> list[float]:
    took = []
    for _ in range(CALLS):
        status, body, elapsed = await health(app)
        took.append(round(elapsed, 2))
        assert status == 503, body
        assert body["status"] == "degraded"
        assert body["services"][service]["status"] == "unhealthy", body
        assert body["services"][other]["status"] == "healthy", body
        assert elapsed < BOUND_S, f"health took {took} s with {service} hung"
    async with app.client() as client:
        live = await client.get("/api/health/live", timeout=5)
    assert live.status_code == 200
    return took


async def test_a_hung_redis_costs_its_timeout_not_a_hung_endpoint(
    processes: Processes, proxies: list[HangingProxy]
) -> None:
    url, proxy = behind_proxy(REDIS_URL, proxies)
    app = processes.serve(REDIS_URL=url, HEALTH_CHECK_TIMEOUT_MS=TIMEOUT_MS)
    _, body, _ = await health(app)
    assert body["services"]["redis"]["status"] == "healthy", body
    proxy.hang()
    await assert_hung(app, "redis", "postgres")


async def test_a_hung_postgres_costs_its_timeout_not_a_hung_endpoint(
    processes: Processes, proxies: list[HangingProxy], pg_url: str
) -> None:
    url, proxy = behind_proxy(pg_url, proxies)
    app = processes.serve(DATABASE_URL=url, HEALTH_CHECK_TIMEOUT_MS=TIMEOUT_MS)
    _, body, _ = await health(app)
    assert body["services"]["postgres"]["status"] == "healthy", body
    proxy.hang()
    await assert_hung(app, "postgres", "redis")
