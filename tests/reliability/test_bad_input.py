"""Bad input over HTTP: a clear 4xx JSON error, never a 5xx or a crash.

- bodies over MAX_BODY_BYTES get 413 before anything reads or parses them;
- malformed JSON, wrong types, unknown fields, absurd ids and parameters get
  a 4xx JSON `{"error": ...}` that does not echo the input.

The Socket.IO side is `test_socket_junk.py`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from ailawyer import messages
from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from tests.fixtures.live_app import make_user
from tests.fixtures.processes import ChildProcess, Processes
from tests.reliability.support import SecretWatch, Session, log_in

pytestmark = pytest.mark.slow

LIMIT = 4096

# Path segments as they go on the wire (already percent-encoded where needed).
ABSURD_IDS = [
    "x" * 5000,
    "%C3%A4%E2%82%AC%F0%9F%98%80",  # ä€😀
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2E%2E%2F%2E%2E%2Fadmin",
    "%00",
    "a%00b",
    "%FF%FE",
    "%0D%0ASet-Cookie:%20x=1",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "'%3B%20DROP%20TABLE%20users%3B%20--",
    "%25",
    "%20",
]
# Strings that must never come back in an error body.
NOT_ECHOED = ("<script>", "DROP TABLE", "x" * 200, "etc/passwd", "Set-Cookie")


def error_problem(response: httpx.Response) -> str | None:
    """What is wrong with an answer to bad input (None: a proper 4xx JSON error)."""
    if not 400 <= response.status_code < 500:
        return f"status {response.status_code}: {response.text[:200]}"
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"content-type {response.headers.get('content-type')}"
    body = response.json()
    if not (isinstance(body, dict) and isinstance(body.get("error"), str)):
        return f"body {body!r:.200}"
    echoed = [text for text in NOT_ECHOED if text in response.text]
    return f"echoes {echoed}" if echoed else None


async def raw_request(app: ChildProcess, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP/1.1 request over a plain socket; returns status and response body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
    try:
        writer.write(head + body)
        await writer.drain()
        async with asyncio.timeout(5):
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            payload = await reader.readexactly(length)
    finally:
        writer.close()
    return status, payload


async def test_oversized_bodies_are_refused_before_they_are_read(
    processes: Processes, db: Database, watch: SecretWatch
) -> None:
    app = processes.serve(MAX_BODY_BYTES=str(LIMIT))
    admin = await make_user(db, Role.ADMIN)
    async with app.client() as client:
        as_admin = await log_in(client, admin.email, watch)

        # A declared length over the limit: answered without waiting for the body
        # (only one byte of it is ever sent).
        head = (
            b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
        )
        status, payload = await raw_request(app, head, b"{")
        assert status == 413
        assert json.loads(payload) == {"error": messages.BODY_TOO_LARGE}

        # Over the limit and not even JSON: 413, not 422 (the size is decided first).
        junk = b"\xff" * (LIMIT + 1)
        for method, path, who in (
            ("POST", "/api/auth/login", Session()),
            ("PUT", "/api/settings/log.level", as_admin),
            ("POST", "/api/admin/queues/test/clean", as_admin),
            ("POST", "/api/notifications/read-all", as_admin),
        ):
            response = await client.request(
                method,
                path,
                content=junk,
                headers={"content-type": "application/json", **who.headers(method)},
            )
            assert response.status_code == 413, (path, response.text)
            assert response.json() == {"error": messages.BODY_TOO_LARGE}

        # Chunked, no declared length: refused once the limit is passed.
        async def chunks() -> Any:
            for _ in range(LIMIT // 512 + 2):
                yield b" " * 512

        streamed = await client.post(
            "/api/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413

        # A negative or non-numeric length is a 400, not a crash.
        for length in (b"-1", b"abc", b"1e9"):
            head = (
                b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: " + length + b"\r\n\r\n"
            )
            status, _ = await raw_request(app, head)
            assert 400 <= status < 500, (length, status)

        # Just under the limit is parsed as usual.
        fits = await client.post(
            "/api/auth/login", json={"email": "a@b.de", "password": "x" * (LIMIT - 100)}
        )
        assert fits.status_code == 422  # the password field is bounded (1024)
    app.stop()
    watch.check()


async def test_malformed_bodies_ids_and_parameters_get_4xx_json(
    processes: Processes, db: Database, watch: SecretWatch
) -> None:
    app = processes.serve(MAX_BODY_BYTES=str(LIMIT))
    admin = await make_user(db, Role.ADMIN)
    lawyer = await make_user(db, Role.ANWALT)
    async with app.client() as client:
        as_admin = await log_in(client, admin.email, watch)
        as_lawyer = await log_in(client, lawyer.email, watch)
        seen = 0
        problems: list[str] = []

        def check_error(response: httpx.Response, where: object) -> None:
            problem = error_problem(response)
            if problem:
                problems.append(f"{where!r:.120}: {problem}")

        async def send(
            method: str, path: str, who: Session, body: bytes | None = None, **kwargs: Any
        ) -> httpx.Response:
            nonlocal seen
            headers = {"content-type": "application/json", **who.headers(method)}
            response = await client.request(method, path, content=body, headers=headers, **kwargs)
            seen += 1
            return response

        deep = b'{"email": ' + b"[" * 1900 + b"]" * 1900 + b', "password": "x"}'
        bodies: list[bytes] = [
            b"",
            b"{",
            b"[1, 2",
            b"null",
            b"[]",
            b'"text"',
            b"\xff\xfe\x00",
            b"{'single': 'quotes'}",
            b'{"email": NaN, "password": Infinity}',
            deep,
        ]
        wrong_types: list[Any] = [
            {"email": 5, "password": ["x"]},
            {"email": None, "password": None},
            {"email": {"$ne": ""}, "password": {"$ne": ""}},
            {"email": "a@b.de"},
            {"email": "a@b.de", "password": "x", "role": "ADMIN"},  # unknown field
            {"email": "x" * 2000, "password": "y"},
            {"email": "a\u0000@b.de", "password": "x"},
        ]
        for raw in bodies:
            check_error(await send("POST", "/api/auth/login", Session(), raw), raw[:40])
        for data in wrong_types:
            body = json.dumps(data).encode()
            check_error(await send("POST", "/api/auth/login", Session(), body), data)

        for data in (
            {"value": 5},
            {"value": "laut"},
            {"value": None},
            {},
            {"value": "info", "extra": True},
            {"value": "info\u0000"},
            [],
        ):
            body = json.dumps(data).encode()
            check_error(await send("PUT", "/api/settings/log.level", as_admin, body), data)
        for data in (
            {"state": "alles"},
            {"state": 5},
            {"state": "completed", "limit": -1},
            {"state": "completed", "limit": 10**12},
            {"state": "completed", "olderThanS": "bald"},
            {"state": "completed", "dropEverything": True},
        ):
            body = json.dumps(data).encode()
            check_error(await send("POST", "/api/admin/queues/test/clean", as_admin, body), data)

        for query in (
            "limit=abc",
            "limit=-5",
            "limit=1e309",
            "limit=99999999999999999999999",
            "unreadOnly=vielleicht",
            "cursor=%00",
            "cursor=" + "x" * 300,
            "cursor=bm9ub25zZW5zZQ",  # base64 of "nonsense"
        ):
            check_error(await send("GET", f"/api/notifications?{query}", as_lawyer), query)
        for query in ("state=alles", "page=0", "page=-1", "pageSize=100000", "pageSize=x"):
            path = f"/api/admin/queues/test/jobs?{query}"
            check_error(await send("GET", path, as_admin), query)

        for raw_id in ABSURD_IDS:
            for method, path, who in (
                ("POST", f"/api/jobs/{raw_id}/retry", as_lawyer),
                ("POST", f"/api/notifications/{raw_id}/read", as_lawyer),
                ("POST", f"/api/notifications/{raw_id}/dismiss", as_lawyer),
                ("GET", f"/api/settings/{raw_id}", as_admin),
                ("PUT", f"/api/settings/{raw_id}", as_admin),
                ("GET", f"/api/admin/queues/{raw_id}", as_admin),
                ("GET", f"/api/admin/queues/test/jobs/{raw_id}", as_admin),
                ("POST", f"/api/admin/queues/test/jobs/{raw_id}/retry", as_admin),
                ("POST", f"/api/admin/queues/test/jobs/{raw_id}/promote", as_admin),
                ("DELETE", f"/api/admin/queues/test/jobs/{raw_id}", as_admin),
                ("POST", f"/api/admin/queues/{raw_id}/pause", as_admin),
            ):
                content = b'{"value": "info"}' if method == "PUT" else None
                check_error(await send(method, path, who, content), (method, path[:80]))

        # Junk in headers: a cookie that is no session, a CSRF header that fits nothing.
        for cookie in (
            "session=%00",
            "session=" + "a" * 5000,
            "session=a.b.c",
            "session",
            "session=a.\u00e4\u00f6",
            "session=\u00e4.\u00e4",
        ):
            response = await client.get("/api/auth/me", headers={b"Cookie": cookie.encode()})
            if response.status_code != 401:
                problems.append(f"cookie {cookie[:40]!r}: {response.status_code}")
        assert as_admin.session is not None
        for token in ("\u00e4" * 10, "x" * 5000, "%00"):
            headers = {b"Cookie": f"session={as_admin.session}", b"X-CSRF-Token": token}
            response = await client.post(
                "/api/admin/test-job", headers={k: v.encode() for k, v in headers.items()}
            )
            if response.status_code != 403:
                problems.append(f"X-CSRF-Token {token[:20]!r}: {response.status_code}")
        assert seen > 150
        assert not problems, "\n".join(problems)

        live = await client.get("/api/health/live")
        assert live.status_code == 200
    app.stop()
    output = "\n".join(path.read_text(encoding="utf-8") for path in watch.directory.glob("*.log"))
    assert "http.unhandled_error" not in output
    assert '"status": 500' not in output
    watch.check()
