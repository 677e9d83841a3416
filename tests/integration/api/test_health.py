"""`GET /api/health` against real dependencies that are up, down, failing or hanging.

MinIO, Meilisearch and OnlyOffice are stood in for by tiny HTTP servers on
loopback that answer 200, answer 500, or never answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import httpx
import pytest

from tests.fixtures.processes import ChildProcess, Processes
from tests.fixtures.services import RedisServer

pytestmark = pytest.mark.slow

Behaviour = Literal["ok", "error", "hang"]
TIMEOUT_MS = 1000
SERVICES = {"app", "postgres", "redis", "worker", "minio", "meilisearch", "onlyoffice"}


@asynccontextmanager
async def stand_in(behaviour: Behaviour) -> AsyncIterator[str]:
    """An HTTP server on a free loopback port; yields its base URL."""
    writers: list[asyncio.StreamWriter] = []
    paths: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            paths.append(head.split(b" ", 2)[1])
            if behaviour == "hang":
                await reader.read()  # until the client gives up and closes
                return
            status = b"200 OK" if behaviour == "ok" else b"500 Internal Server Error"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Length: 4\r\nConnection: close\r\n\r\ntrue"
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def get_health(app: ChildProcess) -> tuple[int, dict[str, object], str, float]:
    async with app.client() as client:
        started = time.monotonic()
        response = await client.get("/api/health")
        elapsed = time.monotonic() - started
    return response.status_code, response.json(), response.text, elapsed


def statuses(body: dict[str, object]) -> dict[str, str]:
    services = body["services"]
    assert isinstance(services, dict)
    assert set(services) == SERVICES
    for item in services.values():
        assert set(item) == {"status", "latency"}
        assert isinstance(item["latency"], int)
    return {name: item["status"] for name, item in services.items()}


def assert_tells_no_secrets(text: str, *urls: str) -> None:
    """No hostnames, addresses, ports or exception text in the public answer."""
    lowered = text.lower()
    for word in (
        "127.0.0.1",
        "localhost",
        "error",
        "exception",
        "refused",
        "traceback",
        "redis://",
    ):
        assert word not in lowered, word
    for url in urls:
        assert url.rsplit(":", 1)[-1] not in text, url


async def test_everything_up_is_healthy(processes: Processes) -> None:
    async with stand_in("ok") as minio, stand_in("ok") as meili, stand_in("ok") as office:
        worker = processes.launch_worker()
        app = processes.serve(
            MINIO_ENDPOINT=minio, MEILISEARCH_URL=meili, ONLYOFFICE_INTERNAL_URL=office
        )
        worker.wait_ready()
        status, body, text, _ = await get_health(app)
    assert status == 200, text
    assert body["status"] == "healthy"
    assert set(statuses(body).values()) == {"healthy"}
    assert isinstance(body["uptime"], float) and body["uptime"] > 0
    assert str(body["timestamp"]).endswith("Z")
    assert_tells_no_secrets(text, minio, meili, office)


async def test_unset_peers_are_not_configured_and_do_not_degrade(
    pipeline: tuple[ChildProcess, ChildProcess],
) -> None:
    app, _ = pipeline
    status, body, text, _ = await get_health(app)
    assert status == 200, text
    assert body["status"] == "healthy"
    found = statuses(body)
    assert {found[name] for name in ("minio", "meilisearch", "onlyoffice")} == {"not_configured"}
    assert {found[name] for name in ("app", "postgres", "redis", "worker")} == {"healthy"}


async def test_failing_and_hanging_peers_are_unhealthy_within_the_timeout(
    processes: Processes,
) -> None:
    async with stand_in("error") as minio, stand_in("hang") as meili, stand_in("ok") as office:
        app = processes.serve(
            MINIO_ENDPOINT=minio,
            MEILISEARCH_URL=meili,
            ONLYOFFICE_INTERNAL_URL=office,
            HEALTH_CHECK_TIMEOUT_MS=str(TIMEOUT_MS),
        )
        status, body, text, elapsed = await get_health(app)
    assert status == 503, text
    assert body["status"] == "degraded"
    found = statuses(body)
    assert found["minio"] == "unhealthy"
    assert found["meilisearch"] == "unhealthy"
    assert found["onlyoffice"] == "healthy"
    services = body["services"]
    assert isinstance(services, dict)
    assert TIMEOUT_MS <= services["meilisearch"]["latency"] < TIMEOUT_MS + 500
    # Checks run side by side: the hung one costs its timeout, not more.
    assert elapsed < TIMEOUT_MS / 1000 + 1
    assert_tells_no_secrets(text, minio, meili, office)


async def test_no_worker_means_worker_unhealthy(processes: Processes, tmp_path: Path) -> None:
    # A private Redis: no heartbeat of another test's worker can answer for ours.
    redis = RedisServer(tmp_path / "redis").start()
    try:
        app = processes.serve(REDIS_URL=redis.url)
        status, body, text, _ = await get_health(app)
    finally:
        redis.stop()
    assert status == 503, text
    assert body["status"] == "degraded"
    found = statuses(body)
    assert found["worker"] == "unhealthy"
    assert found["redis"] == "healthy"
    assert found["postgres"] == "healthy"


async def test_redis_down_is_degraded_within_the_timeout(
    processes: Processes, tmp_path: Path
) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    try:
        app = processes.serve(REDIS_URL=redis.url, HEALTH_CHECK_TIMEOUT_MS=str(TIMEOUT_MS))
        redis.stop()
        status, body, text, elapsed = await get_health(app)
        async with app.client() as client:
            live = await client.get("/api/health/live")
    finally:
        redis.stop()
    assert status == 503, text
    assert body["status"] == "degraded"
    found = statuses(body)
    assert found["redis"] == "unhealthy"
    assert found["worker"] == "unhealthy"
    assert found["postgres"] == "healthy"
    assert elapsed < TIMEOUT_MS / 1000 + 1
    assert_tells_no_secrets(text, redis.url)
    # Liveness touches nothing: the process itself is fine.
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    # The reason is in the log, not in the answer.
    assert "health.check_failed" in app.output()


async def test_health_json_is_the_same_shape_when_called_twice(
    anonymous: httpx.AsyncClient,
) -> None:
    first = (await anonymous.get("/api/health")).json()
    second = (await anonymous.get("/api/health")).json()
    assert set(first) == set(second) == {"status", "services", "timestamp", "uptime"}
    assert second["uptime"] >= first["uptime"]
