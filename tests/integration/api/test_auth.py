"""Login, sessions, CSRF and the login rate limit, against a running `ailawyer serve`."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import pytest
from sqlalchemy import update

from ailawyer import messages
from ailawyer.db.engine import Database
from ailawyer.db.models import User
from tests.fixtures.live_app import PASSWORD, LoggedIn, login
from tests.fixtures.processes import ChildProcess, Processes
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.slow


async def test_login_sets_session_and_csrf_cookies(app_server: ChildProcess, lawyer: User) -> None:
    async with app_server.client() as client:
        response = await client.post(
            "/api/auth/login", json={"email": lawyer.email.upper(), "password": PASSWORD}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {
        "id": lawyer.id,
        "email": lawyer.email,
        "name": lawyer.name,
        "role": "ANWALT",
    }
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    assert "httponly" in cookies["session"]
    assert "samesite=lax" in cookies["session"]
    assert "max-age=28800" in cookies["session"]
    assert "secure" not in cookies["session"]  # development: plain http
    assert "httponly" not in cookies["csrf_token"]
    assert response.cookies["csrf_token"] == body["csrfToken"]
    # The cookie carries a token and its signature, not the stored id.
    assert "." in response.cookies["session"]


async def test_me_needs_a_session(anonymous: httpx.AsyncClient, as_lawyer: LoggedIn) -> None:
    response = await anonymous.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json() == {"error": messages.NOT_AUTHENTICATED}

    me = await as_lawyer.http.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["id"] == as_lawyer.user.id
    assert me.json()["csrfToken"] == as_lawyer.csrf


async def test_forged_or_tampered_cookie_is_no_session(
    app_server: ChildProcess, as_lawyer: LoggedIn
) -> None:
    token, _, signature = as_lawyer.cookies["session"].partition(".")
    for value in (f"{token}.{signature[:-2]}xx", f"{token}x.{signature}", token, "", "a" * 300):
        async with app_server.client() as client:
            client.cookies.set("session", value)
            response = await client.get("/api/auth/me")
        assert response.status_code == 401, value


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    app_server: ChildProcess, lawyer: User
) -> None:
    async def attempt(email: str) -> tuple[int, str, float]:
        async with app_server.client() as client:
            started = time.perf_counter()
            response = await client.post(
                "/api/auth/login", json={"email": email, "password": "falsches-passwort"}
            )
            return response.status_code, response.text, time.perf_counter() - started

    wrong = [await attempt(lawyer.email) for _ in range(5)]
    unknown = [await attempt(f"niemand-{i}@kanzlei.test") for i in range(5)]
    assert {(status, text) for status, text, _ in wrong + unknown} == {
        (401, '{"error":"' + messages.INVALID_LOGIN + '"}')
    }
    # Both verify one argon2 hash; without the dummy hash an unknown e-mail
    # would answer in a fraction of the time.
    wrong_s = statistics.median(t for *_, t in wrong)
    unknown_s = statistics.median(t for *_, t in unknown)
    assert unknown_s > 0.5 * wrong_s, (wrong_s, unknown_s)


async def test_state_changing_request_needs_the_csrf_header(as_lawyer: LoggedIn) -> None:
    without = await as_lawyer.http.post("/api/notifications/read-all", headers={"X-CSRF-Token": ""})
    assert without.status_code == 403
    assert without.json() == {"error": messages.CSRF_FAILED}

    # One character changed (a token may itself start with "x").
    changed = ("y" if as_lawyer.csrf[0] == "x" else "x") + as_lawyer.csrf[1:]
    wrong = await as_lawyer.http.post(
        "/api/notifications/read-all", headers={"X-CSRF-Token": changed}
    )
    assert wrong.status_code == 403

    logout = await as_lawyer.http.post("/api/auth/logout", headers={"X-CSRF-Token": ""})
    assert logout.status_code == 403
    # Reading needs no CSRF token.
    assert (
        await as_lawyer.http.get("/api/auth/me", headers={"X-CSRF-Token": ""})
    ).status_code == 200

    ok = await as_lawyer.http.post("/api/notifications/read-all")
    assert ok.status_code == 200


async def test_logout_revokes_the_session(app_server: ChildProcess, as_lawyer: LoggedIn) -> None:
    response = await as_lawyer.http.post("/api/auth/logout")
    assert response.status_code == 200
    assert response.json() == {"success": True}
    # The browser's cookie is cleared, and the old cookie no longer works anywhere.
    cleared = [c.lower() for c in response.headers.get_list("set-cookie")]
    assert any(c.startswith("session=") and "max-age=0" in c for c in cleared), cleared
    async with app_server.client() as client:
        response = await client.get("/api/auth/me", headers={"Cookie": as_lawyer.cookie_header})
    assert response.status_code == 401


async def test_inactive_user_cannot_log_in_and_loses_sessions(
    app_server: ChildProcess, db: Database, lawyer: User
) -> None:
    session = await login(app_server.url, lawyer)
    try:
        async with db.session() as s:
            await s.execute(update(User).where(User.id == lawyer.id).values(active=False))
        assert (await session.http.get("/api/auth/me")).status_code == 401
    finally:
        await session.http.aclose()
    async with app_server.client() as client:
        response = await client.post(
            "/api/auth/login", json={"email": lawyer.email, "password": PASSWORD}
        )
    assert response.status_code == 401
    assert response.json() == {"error": messages.INVALID_LOGIN}


def from_address(app: ChildProcess, address: str) -> httpx.AsyncClient:
    """A client whose connections come from `address` (any 127.x.y.z is loopback)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=app.url, transport=transport, timeout=30, trust_env=False)


async def test_an_attacker_locks_out_only_their_own_address(
    processes: Processes, lawyer: User
) -> None:
    # The counters live under the test's BULLMQ_PREFIX: other tests' logins do not count.
    app = processes.serve(LOGIN_RATE_LIMIT="3", LOGIN_RATE_WINDOW="120")
    bad = {"email": lawyer.email, "password": "falsch-falsch"}
    good = {"email": lawyer.email, "password": PASSWORD}
    async with from_address(app, "127.0.0.2") as attacker, from_address(app, "127.0.0.1") as owner:
        for _ in range(3):
            assert (await attacker.post("/api/auth/login", json=bad)).status_code == 401
        limited = await attacker.post("/api/auth/login", json=bad)
        assert limited.status_code == 429
        assert limited.json()["error"] == messages.TOO_MANY_LOGINS
        assert 1 <= int(limited.headers["Retry-After"]) <= 120
        # Even the right password waits there for the window to end...
        assert (await attacker.post("/api/auth/login", json=good)).status_code == 429
        # ...and refused attempts do not renew the window.
        again = await attacker.post("/api/auth/login", json=bad)
        assert int(again.headers["Retry-After"]) <= int(limited.headers["Retry-After"])
        # The owner, from an address of their own, logs in as usual.
        assert (await owner.post("/api/auth/login", json=good)).status_code == 200
        # Another account from the attacker's address is not blocked by that account's count.
        other = {"email": "jemand@kanzlei.test", "password": "x" * 10}
        assert (await attacker.post("/api/auth/login", json=other)).status_code == 401


async def test_the_per_account_ceiling_and_the_per_address_limit(
    processes: Processes, lawyer: User
) -> None:
    app = processes.serve(
        LOGIN_RATE_LIMIT="2",
        LOGIN_ACCOUNT_LIMIT="4",
        LOGIN_ADDRESS_LIMIT="3",
        LOGIN_RATE_WINDOW="120",
    )
    bad = {"email": lawyer.email, "password": "falsch-falsch"}
    good = {"email": lawyer.email, "password": PASSWORD}
    clients = [from_address(app, f"127.0.0.{n}") for n in (2, 3, 4, 5)]
    try:
        # Two addresses, two failures each: the account's ceiling of four is reached,
        # and then it holds for everyone, its owner included, until the window ends.
        for client in clients[:2]:
            for _ in range(2):
                assert (await client.post("/api/auth/login", json=bad)).status_code == 401
        assert (await clients[2].post("/api/auth/login", json=good)).status_code == 429
        # One address spraying over many accounts meets the per-address limit.
        sprayer = clients[3]
        for n in range(3):
            spray = {"email": f"konto{n}@kanzlei.test", "password": "x" * 10}
            assert (await sprayer.post("/api/auth/login", json=spray)).status_code == 401
        spray = {"email": "konto9@kanzlei.test", "password": "x" * 10}
        assert (await sprayer.post("/api/auth/login", json=spray)).status_code == 429
    finally:
        for client in clients:
            await client.aclose()


async def test_parallel_wrong_passwords_cannot_outrun_the_limit(
    processes: Processes, lawyer: User
) -> None:
    app = processes.serve(LOGIN_RATE_LIMIT="5", LOGIN_RATE_WINDOW="120")
    bad = {"email": lawyer.email, "password": "falsch-falsch"}
    async with from_address(app, "127.0.0.6") as client:
        answers = await asyncio.gather(
            *(client.post("/api/auth/login", json=bad) for _ in range(40))
        )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) + statuses.count(429) == 40, statuses
    assert 1 <= statuses.count(401) <= 5, statuses
    # What reached argon2: one `auth.login_failed` line per checked password
    # (the log is written in batches, so wait for the lines, then for more).
    checked = statuses.count(401)
    assert wait_until(lambda: app.output().count("auth.login_failed") >= checked, 5)
    assert not wait_until(lambda: app.output().count("auth.login_failed") > checked, 0.5)


async def test_login_refuses_malformed_bodies(anonymous: httpx.AsyncClient) -> None:
    for body in ({}, {"email": "a@b.de"}, {"email": 1, "password": 2}, [], "x"):
        response = await anonymous.post("/api/auth/login", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"] == messages.INVALID_INPUT
    huge = {"email": "a@b.de", "password": "p" * 5000}
    response = await anonymous.post("/api/auth/login", json=huge)
    assert response.status_code == 422
    assert "p" * 100 not in response.text  # the input is never echoed
