"""The HTML pages: login, notification center, admin queue dashboard.

Pages are plain HTML files (`templates/`) with a few `$placeholders` filled in
(HTML-escaped); everything dynamic is done by the static scripts through the
JSON API. A page without a session redirects to `/login`; the dashboard answers
403 to everyone but ADMIN, exactly like its API.

Security headers are set here, for pages only: a strict Content-Security-Policy
(own scripts, styles and connections only — Socket.IO is same-origin), no
framing, and no caching of pages that name the user.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from functools import cache
from importlib import resources
from string import Template
from typing import Annotated, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ailawyer.api.deps import ReadDep, StateDep
from ailawyer.services import auth

router = APIRouter(include_in_schema=False)

NOTIFICATIONS_PATH: Final = "/benachrichtigungen"
DASHBOARD_PATH: Final = "/admin/queues"
LOGIN_PATH: Final = "/login"

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def _template(name: str) -> Template:
    text = resources.files("ailawyer.web").joinpath("templates", name).read_text("utf-8")
    return Template(text)


def render(
    name: str,
    values: Mapping[str, str] | None = None,
    *,
    markup: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Fill a template: `values` are escaped, `markup` (our own HTML) is not."""
    filled = {key: html.escape(value) for key, value in (values or {}).items()}
    filled.update(markup or {})
    body = _template(name).substitute(filled)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


async def page_user(request: Request, state: StateDep, db: ReadDep) -> auth.AuthUser | None:
    """The session's user, or None (a page redirects instead of answering 401)."""
    found = await auth.authenticate(
        db,
        secret=state.settings.auth_secret.get_secret_value(),
        cookie=request.cookies.get(auth.SESSION_COOKIE),
    )
    return found.user if found is not None else None


PageUser = Annotated[auth.AuthUser | None, Depends(page_user)]


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)


def _user_values(user: auth.AuthUser) -> dict[str, str]:
    return {"user_id": user.id, "role": user.role, "user_name": user.name}


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse(NOTIFICATIONS_PATH, status_code=303)


@router.get(NOTIFICATIONS_PATH)
async def notifications_page(request: Request, user: PageUser) -> Response:
    if user is None:
        return _to_login(request)
    admin_nav = f'<a href="{DASHBOARD_PATH}">Queue-Dashboard</a>' if user.is_admin else ""
    return render("notifications.html", _user_values(user), markup={"admin_nav": admin_nav})


@router.get(DASHBOARD_PATH)
async def dashboard_page(request: Request, user: PageUser) -> Response:
    if user is None:
        return _to_login(request)
    if not user.is_admin:
        return render("forbidden.html", status_code=403)
    return render("queues.html", _user_values(user))


@router.get(LOGIN_PATH)
async def login_page(user: PageUser) -> Response:
    if user is not None:
        return RedirectResponse(NOTIFICATIONS_PATH, status_code=303)
    return render("login.html")
