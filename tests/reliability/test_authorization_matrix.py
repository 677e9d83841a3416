"""Who may do what: every endpoint × every kind of caller, one explicit table.

The rows are every operation of the app's OpenAPI document, every route outside
it (pages, documentation, static files) and the Socket.IO connect. The test
fails when the app has an endpoint without a row (or a row without endpoint),
so a new route cannot be added without deciding who may call it.

Callers (columns), each with a session of its own from a real login:

- anonymous: no cookie;
- user: an ANWALT, owner of the job and the notification used below;
- other: a SACHBEARBEITER, owner of nothing here;
- admin: an ADMIN;
- inactive: an ANWALT who logged in and was then deactivated;
- expired: an ADMIN whose session has expired;
- revoked: an ANWALT who logged out, reusing the old cookie;
- forged: the admin's session token signed with another secret;
- no_csrf: an ADMIN who leaves out X-CSRF-Token.

Everyone else sends the CSRF token of their session. No worker runs, so
`/api/health` is 503 (degraded) for everyone alike; the job stays waiting, so a
retry that gets through authorization is 400 ("not failed"). Socket.IO: 200 =
connected, 401 = refused. Pages answer 303 (to /login) where the API says 401.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import socketio
from fastapi.routing import APIRoute
from pydantic import SecretStr
from sqlalchemy import update
from starlette.routing import Mount, Route

from ailawyer.api.app import create_app
from ailawyer.config import Settings
from ailawyer.db.base import utcnow
from ailawyer.db.engine import Database
from ailawyer.db.models import Role, User, UserSession
from ailawyer.queues import TestJobData, test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.services.auth import cookie_value
from ailawyer.services.notifications import NotificationDraft, persist_notifications
from tests.fixtures.live_app import PASSWORD, make_user
from tests.fixtures.processes import Processes
from tests.fixtures.sockets import Recorder
from tests.reliability.support import SecretWatch, Session, log_in

CALLERS = (
    "anonymous",
    "user",
    "other",
    "admin",
    "inactive",
    "expired",
    "revoked",
    "forged",
    "no_csrf",
)
SOCKET = "SOCKET.IO"

# One line per endpoint; the columns are CALLERS, in that order.
MATRIX_TABLE = """
method    endpoint                                        ano usr oth adm ina exp rev frg ncs
GET       /api/health                                     503 503 503 503 503 503 503 503 503
GET       /api/health/live                                200 200 200 200 200 200 200 200 200
POST      /api/auth/login                                 200 200 200 200 200 200 200 200 200
GET       /api/auth/me                                    401 200 200 200 401 401 401 401 200
POST      /api/admin/test-job                             401 403 403 201 401 401 401 401 403
GET       /api/admin/queues                               401 403 403 200 401 401 401 401 200
GET       /api/admin/queues/{name}                        401 403 403 200 401 401 401 401 200
GET       /api/admin/queues/{name}/jobs                   401 403 403 200 401 401 401 401 200
GET       /api/admin/queues/{name}/metrics                401 403 403 200 401 401 401 401 200
GET       /api/admin/workers                              401 403 403 200 401 401 401 401 200
GET       /api/admin/queues/{name}/jobs/{job_id}          401 403 403 200 401 401 401 401 200
POST      /api/admin/queues/{name}/jobs/{job_id}/retry    401 403 403 400 401 401 401 401 403
POST      /api/admin/queues/{name}/jobs/{job_id}/promote  401 403 403 400 401 401 401 401 403
DELETE    /api/admin/queues/{name}/jobs/{job_id}          401 403 403 200 401 401 401 401 403
POST      /api/admin/queues/{name}/clean                  401 403 403 200 401 401 401 401 403
POST      /api/admin/queues/{name}/pause                  401 403 403 200 401 401 401 401 403
POST      /api/admin/queues/{name}/resume                 401 403 403 200 401 401 401 401 403
GET       /api/admin/schedules                            401 403 403 200 401 401 401 401 200
GET       /api/admin/jobs/{job_id}                        401 403 403 200 401 401 401 401 200
GET       /api/admin/system                               401 403 403 200 401 401 401 401 200
GET       /api/admin/system/health-history                401 403 403 200 401 401 401 401 200
# {id} is the notification's id here: no schedule has it (404 once past the checks).
POST      /api/admin/schedules/{id}/run                   401 403 403 404 401 401 401 401 403
POST      /api/jobs/{jobId}/retry                         401 400 403 400 401 401 401 401 403
GET       /api/jobs/active                                401 200 200 200 401 401 401 401 200
# The owner cancels the waiting job; from then on it is failed, no longer active.
POST      /api/jobs/{jobId}/cancel                        401 200 403 400 401 401 401 401 403
POST      /api/admin/queues/{name}/jobs/{job_id}/cancel   401 403 403 400 401 401 401 401 403
GET       /api/notifications                              401 200 200 200 401 401 401 401 200
POST      /api/notifications/read-all                     401 200 200 200 401 401 401 401 403
POST      /api/notifications/{id}/read                    401 200 404 404 401 401 401 401 403
POST      /api/notifications/{id}/dismiss                 401 200 404 404 401 401 401 401 403
GET       /api/settings                                   401 403 403 200 401 401 401 401 200
GET       /api/settings/{key}                             401 403 403 200 401 401 401 401 200
PUT       /api/settings/{key}                             401 403 403 200 401 401 401 401 403
# Public, like the health checks: restrict it at the proxy (docs/reliability.md).
GET       /metrics                                        200 200 200 200 200 200 200 200 200
# Outside the OpenAPI document: pages, documentation, static files.
GET       /                                               303 303 303 303 303 303 303 303 303
GET       /benachrichtigungen                             303 200 200 200 303 303 303 303 200
GET       /admin/queues                                   303 403 403 200 303 303 303 303 200
GET       /admin/system                                   303 403 403 200 303 303 303 303 200
GET       /admin/einstellungen                            303 403 403 200 303 303 303 303 200
GET       /login                                          200 303 303 303 200 200 200 200 303
GET       /api/openapi.json                               200 200 200 200 200 200 200 200 200
GET       /api/docs                                       200 200 200 200 200 200 200 200 200
GET       /docs/oauth2-redirect                           200 200 200 200 200 200 200 200 200
GET       /static                                         200 200 200 200 200 200 200 200 200
SOCKET.IO /socket.io                                      401 200 200 200 401 401 401 401 200
# Last: it ends the sessions it is called with.
POST      /api/auth/logout                                401 200 200 200 401 401 401 401 403
"""


def parse_matrix(table: str) -> list[tuple[str, str, tuple[int, ...]]]:
    rows = []
    for line in table.strip().splitlines()[1:]:
        if line.startswith("#"):
            continue
        method, endpoint, *codes = line.split()
        rows.append((method, endpoint, tuple(int(code) for code in codes)))
    return rows


MATRIX = parse_matrix(MATRIX_TABLE)


def app_endpoints() -> set[tuple[str, str]]:
    """Every (method, path) the app serves: the OpenAPI document's operations,
    routes left out of it, and mounts (as SOCKET.IO or GET of a static file)."""
    app: Any = create_app(Settings(app_env="test", auth_secret=SecretStr("x" * 40)))
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router (FastAPI ≥ 0.16x)
                walk(route.original_router.routes)
            elif isinstance(route, Mount):
                found.add(
                    (SOCKET, route.path) if "socket.io" in route.path else ("GET", route.path)
                )
            elif isinstance(route, APIRoute | Route) and not getattr(
                route, "include_in_schema", True
            ):
                found.update((m, route.path) for m in route.methods or () if m != "HEAD")

    walk(app.routes)
    return found


def test_every_endpoint_has_a_row() -> None:
    rows = [(method, path) for method, path, _ in MATRIX]
    assert len(rows) == len(set(rows)), "a row appears twice"
    assert all(len(expected) == len(CALLERS) for _, _, expected in MATRIX)
    served = app_endpoints()
    assert set(rows) - served == set(), "rows for endpoints the app does not have"
    assert served - set(rows) == set(), "endpoints without a row in MATRIX"
    assert rows[-1] == ("POST", "/api/auth/logout")


@dataclass
class World:
    """What the rows' path parameters and bodies refer to."""

    job_id: str
    doomed_job_id: str
    notification_id: str
    login_email: str

    def path(self, method: str, template: str) -> str:
        job = self.doomed_job_id if method == "DELETE" else self.job_id
        return (
            template.replace("{name}", test_queue.name)
            .replace("{job_id}", job)
            .replace("{jobId}", job)
            .replace("{id}", self.notification_id)
            .replace("{key}", "log.level")
            .replace("/static", "/static/app.css")
        )

    def body(self, method: str, template: str) -> dict[str, Any] | None:
        if template == "/api/auth/login":
            return {"email": self.login_email, "password": PASSWORD}
        if template.endswith("/clean"):
            return {"state": "completed"}
        if method == "PUT":
            return {"value": "info"}
        return None


async def socket_status(url: str, who: Session) -> int:
    recorder = Recorder()
    cookie = who.headers("GET").get("Cookie")
    try:
        await recorder.connect(url, cookie)
    except socketio.exceptions.ConnectionError:
        return 401
    finally:
        await recorder.close()
    return 200


@pytest.mark.slow
async def test_authorization_matrix(
    processes: Processes,
    db: Database,
    producer: QueueProducer,
    watch: SecretWatch,
) -> None:
    app = processes.serve()
    users: dict[str, User] = {
        "user": await make_user(db, Role.ANWALT),
        "other": await make_user(db, Role.SACHBEARBEITER),
        "admin": await make_user(db, Role.ADMIN),
        "inactive": await make_user(db, Role.ANWALT),
        "expired": await make_user(db, Role.ADMIN),
        "revoked": await make_user(db, Role.ANWALT),
        "no_csrf": await make_user(db, Role.ADMIN),
        "login": await make_user(db, Role.SEKRETARIAT),
    }
    owner = users["user"]
    job = await producer.enqueue(test_queue, TestJobData(user_id=owner.id, message="x"))
    doomed = await producer.enqueue(test_queue, TestJobData(user_id=owner.id, message="y"))
    async with db.session() as session:
        [(note, _)] = await persist_notifications(
            session,
            [NotificationDraft(user_id=owner.id, type="job:completed", title="t", message="m")],
        )
    assert note is not None
    world = World(job.id, doomed.id, note.id, users["login"].email)

    async with app.client() as client:
        callers: dict[str, Session] = {"anonymous": Session()}
        for name in ("user", "other", "admin", "inactive", "expired", "revoked", "no_csrf"):
            callers[name] = await log_in(client, users[name].email, watch)
        callers["no_csrf"].send_csrf = False
        revoked = callers["revoked"]
        logout = await client.post("/api/auth/logout", headers=revoked.headers("POST"))
        assert logout.status_code == 200
        async with db.session() as session:
            await session.execute(
                update(User).where(User.id == users["inactive"].id).values(active=False)
            )
            token = str(callers["expired"].session).partition(".")[0]
            await session.execute(
                update(UserSession)
                .where(UserSession.id == hashlib.sha256(token.encode()).hexdigest())
                .values(expires_at=utcnow())
            )
        admin_token = str(callers["admin"].session).partition(".")[0]
        forged = cookie_value("not-our-secret-" + "x" * 32, admin_token)
        callers["forged"] = Session(forged, callers["admin"].csrf)
        watch.add("forged cookie", forged)

        wrong: list[str] = []
        for method, template, expected in MATRIX:
            for caller, status in zip(CALLERS, expected, strict=True):
                who = callers[caller]
                if method == SOCKET:
                    got = await socket_status(app.url, who)
                else:
                    response = await client.request(
                        method,
                        world.path(method, template),
                        json=world.body(method, template),
                        headers=who.headers(method),
                    )
                    got = response.status_code
                    watch.add("session cookie", response.cookies.get("session"))
                    if got >= 400 and template.startswith("/api/") and template != "/api/health":
                        assert "error" in response.json(), (method, template, response.text)
                if got != status:
                    wrong.append(f"{method} {template} as {caller}: {got}, expected {status}")
        assert not wrong, "\n".join(wrong)
    app.stop()
    watch.check()


@pytest.fixture
async def anonymous_client(processes: Processes) -> AsyncIterator[httpx.AsyncClient]:
    async with processes.serve().client() as client:
        yield client


@pytest.mark.slow
async def test_inactive_user_cannot_log_in(
    anonymous_client: httpx.AsyncClient, db: Database
) -> None:
    user = await make_user(db, Role.ANWALT)
    async with db.session() as session:
        await session.execute(update(User).where(User.id == user.id).values(active=False))
    response = await anonymous_client.post(
        "/api/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 401
    assert "session" not in response.cookies
