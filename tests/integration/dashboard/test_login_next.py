"""The server side of `/login?next=…`: only our own pages are handed on.

The browser side (the login script, in Chromium) is tests/e2e/test_login_redirect.py.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx
import pytest

from ailawyer.web.pages import NEXT_PAGES, safe_next
from tests.fixtures.hostile_input import HOSTILE_NEXT
from tests.fixtures.live_app import LiveApp, LoggedIn

OURS = ("/", "/benachrichtigungen", "/admin/queues", "/admin/queues?state=failed&page=2")


@pytest.mark.parametrize("value", [*HOSTILE_NEXT, "", "/" + "a" * 3000, "/benachrichtigungen/"])
def test_safe_next_refuses_anything_but_our_pages(value: str) -> None:
    assert safe_next(value) is None


@pytest.mark.parametrize("value", [*OURS, "/admin/system", "/admin/einstellungen"])
def test_safe_next_keeps_our_pages(value: str) -> None:
    assert safe_next(value) == value


async def test_the_login_url_loses_a_hostile_next(app: LiveApp) -> None:
    async with httpx.AsyncClient(base_url=app.url) as anonymous:
        kept = {}
        for value in HOSTILE_NEXT:
            response = await anonymous.get(f"/login?next={quote(value, safe='')}")
            if (response.status_code, response.headers.get("location")) != (303, "/login"):
                kept[value] = response.status_code
        assert not kept, f"not sent to a plain /login: {kept}"
        for value in OURS:
            page = await anonymous.get(f"/login?next={quote(value, safe='')}")
            assert page.status_code == 200, value
        # The script checks against the same list the server uses.
        listed = re.search(r'data-next-pages="([^"]*)"', page.text)
        assert listed is not None
        assert json.loads(listed[1].replace("&quot;", '"')) == list(NEXT_PAGES)


async def test_a_logged_in_visitor_goes_on_to_next_only_if_it_is_ours(lawyer: LoggedIn) -> None:
    for value in OURS[1:]:
        response = await lawyer.http.get(f"/login?next={quote(value, safe='')}")
        assert (response.status_code, response.headers["location"]) == (303, value)
    for value in HOSTILE_NEXT:
        response = await lawyer.http.get(f"/login?next={quote(value, safe='')}")
        assert (response.status_code, response.headers["location"]) == (
            303,
            "/benachrichtigungen",
        ), value


async def test_a_page_sends_to_login_with_itself_as_next(app: LiveApp) -> None:
    async with httpx.AsyncClient(base_url=app.url) as anonymous:
        plain = await anonymous.get("/admin/queues?state=failed")
        assert plain.headers["location"] == "/login?next=%2Fadmin%2Fqueues%3Fstate%3Dfailed"
