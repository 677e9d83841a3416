"""Bad input gets a clear JSON 4xx; oversized bodies are refused before parsing;
request ids and the log keep secrets out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ailawyer import messages
from ailawyer.db.models import User
from tests.fixtures.live_app import PASSWORD, LoggedIn, login
from tests.fixtures.processes import Processes

pytestmark = pytest.mark.slow

LIMIT = 4096


async def test_unknown_route_and_wrong_method_are_json(anonymous: httpx.AsyncClient) -> None:
    missing = await anonymous.get("/api/gibt-es-nicht")
    assert missing.status_code == 404
    assert missing.json() == {"error": messages.NOT_FOUND}
    assert missing.headers["content-type"] == "application/json"

    wrong = await anonymous.delete("/api/auth/login")
    assert wrong.status_code == 405
    assert wrong.json() == {"error": messages.METHOD_NOT_ALLOWED}
    assert "POST" in wrong.headers["allow"]


async def test_malformed_json_is_422(anonymous: httpx.AsyncClient) -> None:
    for raw in (b"{", b"null", b'{"email": "a@b.de", "password": }', b"\xff\xfe"):
        response = await anonymous.post(
            "/api/auth/login", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, raw
        body = response.json()
        assert body["error"] == messages.INVALID_INPUT
        assert isinstance(body["details"], list)
    not_json = await anonymous.post(
        "/api/auth/login", content=b"email=a", headers={"content-type": "text/plain"}
    )
    assert not_json.status_code == 422


async def test_oversized_bodies_get_413_before_parsing(processes: Processes, admin: User) -> None:
    app = processes.serve(MAX_BODY_BYTES=str(LIMIT))
    big = b'{"value": "' + b"x" * LIMIT + b'"}'
    async with app.client() as client:
        declared = await client.post(
            "/api/auth/login", content=big, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413
        assert declared.json() == {"error": messages.BODY_TOO_LARGE}

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(8):
                yield b"x" * 1024

        streamed = await client.post(
            "/api/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413

        # Just under the limit is parsed as usual (here: a wrong login).
        small = await client.post("/api/auth/login", json={"email": "a@b.de", "password": "x"})
        assert small.status_code == 401

    session = await login(app.url, admin)
    try:
        too_big = await session.http.put("/api/settings/log.level", content=big)
        assert too_big.status_code == 413
    finally:
        await session.http.aclose()


async def test_request_id_is_returned_and_bound(anonymous: httpx.AsyncClient) -> None:
    own = await anonymous.get("/api/health/live", headers={"X-Request-ID": "abcdef12-probe"})
    assert own.headers["x-request-id"] == "abcdef12-probe"
    for bad in ("kurz", "mit leerzeichen drin", "x" * 100):
        response = await anonymous.get("/api/health/live", headers={"X-Request-ID": bad})
        assert response.headers["x-request-id"] != bad
        assert len(response.headers["x-request-id"]) == 32


async def test_log_carries_request_and_user_but_no_secrets(
    processes: Processes, lawyer: User
) -> None:
    app = processes.serve()
    session: LoggedIn = await login(app.url, lawyer)
    try:
        await session.http.get("/api/notifications", headers={"X-Request-ID": "trace-me-0001"})
        await session.http.post("/api/notifications/read-all")
        async with app.client() as client:
            await client.post(
                "/api/auth/login", json={"email": lawyer.email, "password": "Geheim-falsch-123"}
            )
    finally:
        await session.http.aclose()
    output = app.output()
    request_line = next(line for line in output.splitlines() if "trace-me-0001" in line)
    assert "http.request" in request_line
    assert f"userId={lawyer.id}" in request_line
    for secret in (
        PASSWORD,
        "Geheim-falsch-123",
        session.cookies["session"],
        session.cookies["session"].split(".")[0],
        session.csrf,
    ):
        assert secret not in output
