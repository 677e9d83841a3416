"""The HTML pages: login, notification center, admin queue dashboard, system, settings.

Pages are plain HTML files (`templates/`) with a few `$placeholders` filled in
(HTML-escaped); everything dynamic is done by the static scripts through the
JSON API. A page without a session redirects to `/login?next=<the page>`; the
admin pages answer 403 to everyone but ADMIN, exactly like their API.

Where a login sends the browser on (`next`) is one of our pages on this origin,
nothing else (`NEXT_PAGES`): the server drops any other value from the login URL
and the login script checks it again against the same list, which the login
page hands it. Browsers drop tabs and newlines from a URL and read a backslash
as `/`, so a value such as `/<TAB>/evil.example` names another host once the
browser is done with it: "starts with one slash" is not enough of a check.

Security headers are set here, for pages only: a strict Content-Security-Policy
(own scripts, styles and connections only — Socket.IO is same-origin), no
framing, and no caching of pages that name the user.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from string import Template
from typing import Annotated, Final
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ailawyer.api.deps import ReadDep, StateDep
from ailawyer.services import auth

router = APIRouter(include_in_schema=False)

NOTIFICATIONS_PATH: Final = "/benachrichtigungen"
DASHBOARD_PATH: Final = "/admin/queues"
SYSTEM_PATH: Final = "/admin/system"
SETTINGS_PATH: Final = "/admin/einstellungen"
LOGIN_PATH: Final = "/login"

# The pages a login may send the browser on to, as patterns matched against the
# whole path (the same syntax in Python and in the login script). Later admin
# pages (`/admin/system`, `/admin/einstellungen`) fit the last one.
NEXT_PAGES: Final = ("/", NOTIFICATIONS_PATH, r"/admin/[a-z0-9][a-z0-9-]*")
_NEXT_PAGE: Final = re.compile("|".join(f"(?:{pattern})" for pattern in NEXT_PAGES))
_MAX_NEXT: Final = 2048

# The top bar's navigation, in order: path, label, for ADMINs only. A new page
# gets its line here; every page's header is built from it (`_header`).
NAVIGATION: Final = (
    (NOTIFICATIONS_PATH, "Benachrichtigungen", False),
    (DASHBOARD_PATH, "Queue-Dashboard", True),
    (SYSTEM_PATH, "System", True),
    (SETTINGS_PATH, "Einstellungen", True),
)

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


def safe_next(value: str | None) -> str | None:
    """`value` if it is a path (and query) of one of our pages, else None.

    Printable ASCII only, no backslash (a browser drops or rewrites the others
    before it resolves the URL), one leading slash, no scheme or host, and a
    path in `NEXT_PAGES`.
    """
    if not value or len(value) > _MAX_NEXT:
        return None
    if any(not "\x21" <= char <= "\x7e" or char == "\\" for char in value):
        return None
    if not value.startswith("/") or value.startswith("//"):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not _NEXT_PAGE.fullmatch(parts.path):
        return None
    return value


def _to_login(request: Request) -> RedirectResponse:
    target = safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    location = f"{LOGIN_PATH}?next={quote(target, safe='')}" if target else LOGIN_PATH
    return RedirectResponse(location, status_code=303)


_CURRENT: Final = ' aria-current="page"'


def _header(user: auth.AuthUser, current: str) -> str:
    """The top bar of a signed-in page (`templates/_header.html`): the pages
    `user` may open, `current` marked as the one shown, and who is signed in."""
    links = "\n      ".join(
        f'<a href="{path}"{_CURRENT if path == current else ""}>{label}</a>'
        for path, label, admins_only in NAVIGATION
        if user.is_admin or not admins_only
    )
    header = _template("_header.html").substitute(links=links, user_name=html.escape(user.name))
    return header.rstrip("\n")


def _signed_in_page(user: auth.AuthUser, template: str, path: str) -> HTMLResponse:
    return render(
        template,
        {"user_id": user.id, "role": user.role},
        markup={"header": _header(user, path)},
    )


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse(NOTIFICATIONS_PATH, status_code=303)


@router.get(NOTIFICATIONS_PATH)
async def notifications_page(request: Request, user: PageUser) -> Response:
    if user is None:
        return _to_login(request)
    return _signed_in_page(user, "notifications.html", NOTIFICATIONS_PATH)


def _admin_page(request: Request, user: auth.AuthUser | None, template: str, path: str) -> Response:
    """An ADMIN page: the login for no session, the 403 page for anyone else."""
    if user is None:
        return _to_login(request)
    if not user.is_admin:
        return render("forbidden.html", status_code=403)
    return _signed_in_page(user, template, path)


@router.get(DASHBOARD_PATH)
async def dashboard_page(request: Request, user: PageUser) -> Response:
    return _admin_page(request, user, "queues.html", DASHBOARD_PATH)


@router.get(SYSTEM_PATH)
async def system_page(request: Request, user: PageUser) -> Response:
    return _admin_page(request, user, "system.html", SYSTEM_PATH)


@router.get(SETTINGS_PATH)
async def settings_page(request: Request, user: PageUser) -> Response:
    return _admin_page(request, user, "settings.html", SETTINGS_PATH)


@router.get(LOGIN_PATH)
async def login_page(
    user: PageUser, next_page: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    target = safe_next(next_page)
    if user is not None:
        return RedirectResponse(target or NOTIFICATIONS_PATH, status_code=303)
    if next_page is not None and target is None:
        # Not one of ours: the login URL loses it, so the script never sees it.
        return RedirectResponse(LOGIN_PATH, status_code=303)
    return render("login.html", {"next_pages": json.dumps(NEXT_PAGES)})
