"""The admin queue dashboard in Chromium, against the real worker and Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect
from redis.asyncio import Redis

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.queues.definitions import ALL_QUEUES, test_queue
from ailawyer.queues.payloads import TestJobData
from ailawyer.queues.producer import QueueProducer
from tests.e2e.support import Stack, log_in
from tests.fixtures import retryable_queue as retryable_module
from tests.fixtures.bullmq_state import redis_counts
from tests.fixtures.live_app import make_user
from tests.fixtures.retryable_queue import FAILURE_MESSAGE, heal, retryable_queue

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 20_000


async def _settled(producer: QueueProducer, queue: str, **wanted: int) -> None:
    async with asyncio.timeout(30):
        while True:
            counts = await producer.queue(queue).getJobCounts(*wanted)
            if all(counts[state] == number for state, number in wanted.items()):
                return
            await asyncio.sleep(0.1)


def cell(page: Page, queue: str, state: str) -> Locator:
    return page.locator(f'#queue-rows tr[data-queue="{queue}"] td[data-state="{state}"] button')


async def _confirm(page: Page, label: str) -> None:
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name=label).click()
    await expect(dialog).to_be_hidden()


async def test_admin_inspects_retries_and_cleans(
    stack: Stack,
    db: Database,
    producer: QueueProducer,
    redis_client: Redis,
    prefix: str,
    browser: Browser,
    artifacts: Path,
) -> None:
    admin = await make_user(db, Role.ADMIN, name="Anna Admin")
    for i in range(2):
        await producer.enqueue(test_queue, TestJobData(user_id=admin.id, message=f"ok {i}"))
    failed = await producer.enqueue(retryable_queue, TestJobData(user_id=admin.id, message="x"))
    await _settled(producer, "test", completed=2)
    await _settled(producer, "retryable", failed=1)

    page = await browser.new_page()
    await log_in(page, stack.url, admin.email, "/admin/queues")
    # Every count on screen is what Redis holds.
    for queue in (spec.name for spec in (*ALL_QUEUES, *retryable_module.QUEUES)):
        for state, number in (await redis_counts(redis_client, prefix, queue)).items():
            await expect(cell(page, queue, state)).to_have_text(str(number))
    await expect(cell(page, "test", "completed")).to_have_text("2")

    # The failed job, its stack trace.
    await cell(page, "retryable", "failed").click()
    row = page.locator(f'#job-rows tr[data-job-id="{failed.id}"]')
    await expect(row).to_contain_text(FAILURE_MESSAGE)
    # Its owner by name and e-mail; the id is in the tooltip.
    owner = row.locator("td.job-user > span")
    await expect(owner).to_have_text(f"Anna Admin{admin.email}")
    await expect(owner).to_have_attribute("title", f"Benutzer-ID: {admin.id}")
    await page.locator("#job-rows").screenshot(path=artifacts / "queue-dashboard-rows.png")
    await row.get_by_role("button", name="Details").click()
    detail = page.locator("#job-dialog")
    await expect(detail).to_be_visible()
    await expect(detail.locator(".stacktrace")).to_contain_text(f"RuntimeError: {FAILURE_MESSAGE}")
    await expect(detail.locator(".data")).to_contain_text(admin.id)
    await page.screenshot(path=artifacts / "queue-dashboard-job.png", full_page=True)
    await detail.get_by_role("button", name="Schließen").click()
    await expect(detail).to_be_hidden()

    # Retry: confirmed, then the worker runs it again (healed, it succeeds).
    await heal(redis_client, prefix)
    await row.get_by_role("button", name="Erneut versuchen").click()
    await _confirm(page, "Erneut versuchen")
    await expect(page.locator("#status")).to_contain_text("wird erneut versucht")
    await expect(cell(page, "retryable", "completed")).to_have_text("1", timeout=TIMEOUT_MS)
    await expect(cell(page, "retryable", "failed")).to_have_text("0")

    # Clean the test queue's completed jobs; cancelling first changes nothing.
    await cell(page, "test", "completed").click()
    await expect(page.locator("#job-rows tr")).to_have_count(2)
    await page.get_by_label("Status").select_option("completed")
    await page.get_by_label("älter als (Sekunden)").fill("0")
    await page.get_by_role("button", name="Bereinigen").click()
    # Keyboard: the dialog opens on its safe choice, Escape cancels.
    await expect(page.locator("#confirm-cancel")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.locator("#confirm-dialog")).to_be_hidden()
    assert (await redis_counts(redis_client, prefix, "test"))["completed"] == 2
    await page.get_by_role("button", name="Bereinigen").click()
    await _confirm(page, "Bereinigen")
    await expect(page.locator("#status")).to_contain_text("2 Jobs aus „test“ entfernt")
    await expect(cell(page, "test", "completed")).to_have_text("0")
    assert (await redis_counts(redis_client, prefix, "test"))["completed"] == 0

    # Pause and resume, confirmed, visible in Redis.
    toggle = page.locator('#queue-rows tr[data-queue="test"] .pause-toggle')
    await toggle.click()
    await _confirm(page, "Pausieren")
    await expect(toggle).to_have_text("Fortsetzen")
    assert await redis_client.hexists(f"{prefix}:test:meta", "paused")
    await toggle.click()
    await _confirm(page, "Fortsetzen")
    await expect(toggle).to_have_text("Pausieren")
    assert not await redis_client.hexists(f"{prefix}:test:meta", "paused")
    await page.screenshot(path=artifacts / "queue-dashboard.png", full_page=True)


async def test_dashboard_and_its_api_are_forbidden_to_non_admins(
    stack: Stack, db: Database, browser: Browser
) -> None:
    lawyer = await make_user(db, Role.ANWALT)
    page = await browser.new_page()
    await log_in(page, stack.url, lawyer.email, "/benachrichtigungen")
    response = await page.goto(stack.url + "/admin/queues")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", name="Keine Berechtigung")).to_be_visible()
    api = await page.request.get(stack.url + "/api/admin/queues")
    assert api.status == 403
    assert await api.json() == {"error": "Keine Berechtigung"}
    # The notification center offers no way there.
    await page.goto(stack.url + "/benachrichtigungen")
    await expect(page.get_by_role("link", name="Queue-Dashboard")).to_have_count(0)


async def test_the_header_fits_a_phone(
    stack: Stack, db: Database, browser: Browser, artifacts: Path
) -> None:
    """At 390 px an admin's navigation folds behind "Menü"; opened, no link breaks
    inside its name and nothing runs off. At 1280 px the links stand in one line."""
    admin = await make_user(db, Role.ADMIN, name="Anna Admin")
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await log_in(page, stack.url, admin.email, "/admin/queues")
    pages = (
        ("/admin/queues", "dashboard"),
        ("/benachrichtigungen", "notifications"),
        ("/admin/system", "system"),
        ("/admin/einstellungen", "settings"),
    )
    for path, name in pages:
        await page.goto(stack.url + path)
        toggle = page.get_by_role("button", name="Menü")
        links = page.locator(".topbar nav a")
        await expect(toggle).to_be_visible()
        await expect(toggle).to_have_attribute("aria-expanded", "false")
        await expect(links.first).to_be_hidden()
        await toggle.click()
        await expect(toggle).to_have_attribute("aria-expanded", "true")
        await expect(links).to_have_count(4)
        line = await links.first.evaluate("a => parseFloat(getComputedStyle(a).lineHeight)")
        for i in range(4):
            await expect(links.nth(i)).to_be_visible()
            box = await links.nth(i).bounding_box()
            assert box is not None and box["height"] < line + 2 * 10, (path, i, box, line)
            assert box["x"] + box["width"] <= 390, (path, i, box)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
        await page.locator(".topbar").screenshot(path=artifacts / f"header-{name}-390.png")
        await page.keyboard.press("Escape")
        await expect(links.first).to_be_hidden()
        await expect(toggle).to_be_focused()

    wide = await browser.new_page(viewport={"width": 1280, "height": 800})
    await log_in(wide, stack.url, admin.email, "/admin/queues")
    await expect(wide.get_by_role("button", name="Menü")).to_be_hidden()
    wide_links = wide.locator(".topbar nav a")
    await expect(wide_links.first).to_be_visible()
    boxes = [await wide_links.nth(i).bounding_box() for i in range(await wide_links.count())]
    assert len({round(box["y"]) for box in boxes if box}) == 1, boxes

    # A user's one link needs no menu.
    lawyer = await make_user(db, Role.ANWALT)
    phone = await browser.new_page(viewport={"width": 390, "height": 844})
    await log_in(phone, stack.url, lawyer.email, "/benachrichtigungen")
    await expect(phone.get_by_role("button", name="Menü")).to_be_hidden()
    await expect(phone.get_by_role("link", name="Benachrichtigungen")).to_be_visible()
