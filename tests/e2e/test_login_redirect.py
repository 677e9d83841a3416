"""After a login, Chromium goes to the `next` page only if it is one of ours.

Browsers drop tab and newline characters from URLs and read `\\` as `/`, so a
`next` that looks like a path (`/\\t/evil.example`) can still name another host
once the browser has cleaned it up. Every hostile value below is tried twice:
the server must not hand it on (`/login?next=…` comes back without it), and the
login script must refuse it even when it is in the address bar (put back with
`history.replaceState`, as if the server had let it through). Requests to any
other origin are answered by the test, so a redirect that escapes is seen as a
URL, not as a DNS error.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.async_api import Browser, Dialog, Route
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from tests.fixtures.hostile_input import HOSTILE_NEXT
from tests.fixtures.live_app import PASSWORD, make_user
from tests.fixtures.processes import ChildProcess, Processes

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KNOWN_PAGE = re.compile(r"/|/benachrichtigungen|/admin/[a-z0-9][a-z0-9-]*")


@pytest.fixture
def app(processes: Processes) -> ChildProcess:
    """The app alone: logging in needs no worker."""
    return processes.serve()


async def test_login_lands_only_on_known_pages_of_this_origin(
    app: ChildProcess, db: Database, browser: Browser, artifacts: Path
) -> None:
    admin = await make_user(db, Role.ADMIN, name="Anna Admin")
    origin = app.url
    foreign: list[str] = []

    async def elsewhere(route: Route) -> None:
        foreign.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html", body="<h1>fremd</h1>")

    dialogs: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    outcomes: dict[str, str] = {}
    not_cleaned: dict[str, str] = {}
    for index, raw in enumerate(HOSTILE_NEXT):
        context = await browser.new_context()
        await context.route(lambda url: not url.startswith(origin + "/"), elsewhere)
        page = await context.new_page()
        page.on("dialog", on_dialog)
        await page.goto(f"{origin}/login?next={quote(raw, safe='')}")
        if urlsplit(page.url).query:
            not_cleaned[raw] = page.url
        # As if the server had kept it: the script reads it from the address bar.
        await page.evaluate(
            "raw => history.replaceState(null, '', '/login?next=' + encodeURIComponent(raw))", raw
        )
        await page.get_by_label("E-Mail").fill(admin.email)
        await page.get_by_label("Passwort").fill(PASSWORD)
        await page.get_by_role("button", name="Anmelden").click()
        try:
            await page.wait_for_url(lambda url: urlsplit(url).path != "/login", timeout=10_000)
            await page.wait_for_load_state()
        except PlaywrightTimeoutError:
            pass  # still on the login page (a script URL ran there): not a known page
        outcomes[raw] = page.url
        if index == 0:
            await page.screenshot(path=artifacts / "login-after-hostile-next.png")
        await context.close()

    escaped = {
        raw: url
        for raw, url in outcomes.items()
        if not url.startswith(origin + "/") or not KNOWN_PAGE.fullmatch(urlsplit(url).path)
    }
    assert not escaped, f"left the app's known pages: {escaped}"
    assert not foreign, f"requests to other origins: {foreign}"
    assert not dialogs, f"script ran: {dialogs}"
    assert not not_cleaned, f"the server kept these in the login URL: {not_cleaned}"


async def test_login_still_returns_to_the_page_that_sent_there(
    app: ChildProcess, db: Database, browser: Browser
) -> None:
    admin = await make_user(db, Role.ADMIN)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{app.url}/admin/queues")
    assert urlsplit(page.url).path == "/login"
    assert urlsplit(page.url).query == "next=%2Fadmin%2Fqueues"
    await page.get_by_label("E-Mail").fill(admin.email)
    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await page.wait_for_url(f"{app.url}/admin/queues")
    await context.close()
