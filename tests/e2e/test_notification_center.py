"""The notification center in Chromium: live arrival, badge, retry, reconnect."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect
from redis.asyncio import Redis
from sqlalchemy import func, select

from ailawyer.db.engine import Database
from ailawyer.db.models import Notification, Role
from ailawyer.queues.definitions import test_queue
from ailawyer.queues.payloads import TestJobData
from ailawyer.queues.producer import QueueProducer
from ailawyer.services.notifications import UNREAD_CAP, NotificationDraft, persist_notifications
from tests.e2e.support import Stack, log_in
from tests.fixtures.live_app import make_user
from tests.fixtures.retryable_queue import heal, retryable_queue

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE_TIMEOUT_MS = 20_000


def items(page: Page, text: str) -> Locator:
    return page.locator("#notification-list > li", has_text=text)


async def test_notifications_arrive_live_and_a_failed_job_can_be_retried(
    stack: Stack,
    db: Database,
    producer: QueueProducer,
    redis_client: Redis,
    prefix: str,
    browser: Browser,
    artifacts: Path,
) -> None:
    admin = await make_user(db, Role.ADMIN, name="Anna Admin")
    page = await browser.new_page()
    await log_in(page, stack.url, admin.email, "/benachrichtigungen")
    badge = page.locator("#unread-badge")
    await expect(page.locator("#connection-status")).to_have_text("Live verbunden")
    await expect(badge).to_have_text("0")
    await expect(page.locator("#empty")).to_be_visible()
    # Set on this document; a reload would lose it.
    await page.evaluate("window.sameDocument = true")

    await page.get_by_role("button", name="Testauftrag starten").click()
    await expect(page.locator("#status")).to_contain_text("wurde eingereiht")
    completed = items(page, "„Testauftrag“ wurde erfolgreich abgeschlossen")
    await expect(completed).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    await expect(badge).to_have_text("1")
    await expect(badge).to_have_attribute("aria-label", "1 ungelesene Benachrichtigung")
    await expect(page.locator("#live")).to_contain_text(
        "Neue Benachrichtigung: Vorgang abgeschlossen"
    )

    await producer.enqueue(
        retryable_queue, TestJobData(user_id=admin.id, message="bitte scheitern")
    )
    # An admin's own job: one notification, the admin copy with the error and the retry.
    failed = items(page, "Job endgültig fehlgeschlagen")
    await expect(failed).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    await expect(badge).to_have_text("2")
    await expect(items(page, "Vorgang fehlgeschlagen. Erneut versuchen?")).to_have_count(0)
    # Worth retrying: no hint.
    await expect(failed.locator(".retry-hint")).to_have_count(0)
    await page.screenshot(path=artifacts / "notification-center-failed.png", full_page=True)

    await heal(redis_client, prefix)
    await failed.get_by_role("button", name="Erneut versuchen").click()
    await expect(failed.locator(".outcome")).to_contain_text("Erneut gestartet")
    retried = items(page, "„Wiederholbarer Auftrag“ wurde erfolgreich abgeschlossen")
    await expect(retried).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    await expect(badge).to_have_text("3")
    assert await page.evaluate("window.sameDocument") is True
    # Newest first.
    await expect(page.locator("#notification-list > li").first).to_contain_text(
        "Wiederholbarer Auftrag"
    )
    await page.screenshot(path=artifacts / "notification-center.png", full_page=True)

    # Read, dismiss, all read: the badge follows, and the server agrees.
    await retried.get_by_role("button", name="Als gelesen markieren").click()
    await expect(badge).to_have_text("2")
    await completed.get_by_role("button", name="„Vorgang abgeschlossen“ entfernen").click()
    await expect(completed).to_have_count(0)
    await expect(badge).to_have_text("1")
    await page.get_by_role("button", name="Alle als gelesen markieren").click()
    await expect(badge).to_have_text("0")
    await page.reload()
    await expect(page.locator("#notification-list > li")).to_have_count(2)
    await expect(badge).to_have_text("0")


async def _persisted(db: Database, user_id: str) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.user_id == user_id)
            )
            or 0
        )


async def test_what_was_missed_while_disconnected_arrives_on_reconnect(
    stack: Stack, db: Database, producer: QueueProducer, browser: Browser
) -> None:
    user = await make_user(db, Role.SACHBEARBEITER)
    page = await browser.new_page()
    await log_in(page, stack.url, user.email, "/benachrichtigungen")
    status = page.locator("#connection-status")
    await expect(status).to_have_text("Live verbunden")
    await expect(page.get_by_role("button", name="Testauftrag starten")).to_be_hidden()
    await page.evaluate("window.sameDocument = true")

    app = stack.apps[0]
    app.stop()
    await expect(status).not_to_have_text("Live verbunden")
    # Emitted while no app process listens: pub/sub drops it.
    await producer.enqueue(test_queue, TestJobData(user_id=user.id, message="verpasst"))
    async with asyncio.timeout(20):
        while await _persisted(db, user.id) == 0:
            await asyncio.sleep(0.1)
    app.start()
    app.wait_ready()

    await expect(status).to_have_text("Live verbunden", timeout=LIVE_TIMEOUT_MS)
    await expect(items(page, "Vorgang abgeschlossen")).to_have_count(1)
    await expect(page.locator("#unread-badge")).to_have_text("1")
    assert await page.evaluate("window.sameDocument") is True


async def test_a_permanent_failure_says_a_retry_would_not_help(
    stack: Stack, db: Database, producer: QueueProducer, browser: Browser, artifacts: Path
) -> None:
    """An invalid payload fails for good: its owner gets no retry button, but the reason."""
    user = await make_user(db, Role.SACHBEARBEITER)
    admin = await make_user(db, Role.ADMIN)
    # As another producer might send it: the owner is named, the message is missing.
    await producer.queue(test_queue.name).add("test", {"userId": user.id}, {"attempts": 3})

    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await log_in(page, stack.url, user.email, "/benachrichtigungen")
    mine = items(page, "Vorgang fehlgeschlagen")
    await expect(mine).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    await expect(mine.locator(".retry-hint")).to_have_text(
        "Ein erneuter Versuch würde genauso scheitern. Die Administration ist informiert."
    )
    await expect(mine.get_by_role("button", name="Erneut versuchen")).to_have_count(0)
    await page.screenshot(path=artifacts / "notification-permanent-failure-390.png", full_page=True)

    admin_page = await browser.new_page()
    await log_in(admin_page, stack.url, admin.email, "/benachrichtigungen")
    theirs = items(admin_page, "Job endgültig fehlgeschlagen")
    await expect(theirs).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    await expect(theirs.locator(".retry-hint")).to_contain_text("Ursache zuerst beheben")
    await expect(theirs.get_by_role("button", name="Erneut versuchen")).to_be_visible()


async def test_a_capped_count_shows_999_plus_and_is_not_counted_on_locally(
    stack: Stack, db: Database, producer: QueueProducer, browser: Browser, artifacts: Path
) -> None:
    """At the cap the server only says "1,000 or more": the badge shows 999+, a
    live arrival keeps it there, and a read one asks the server again."""
    user = await make_user(db, Role.SACHBEARBEITER)
    drafts = [
        NotificationDraft(user_id=user.id, type="info", title=f"Alt {i}", message="Gelesen?")
        for i in range(UNREAD_CAP)
    ]
    async with db.session() as session:
        await persist_notifications(session, drafts)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await log_in(page, stack.url, user.email, "/benachrichtigungen")
    badge = page.locator("#unread-badge")
    await expect(page.locator("#connection-status")).to_have_text("Live verbunden")
    await expect(badge).to_have_text("999+")
    await expect(badge).to_have_attribute(
        "aria-label", "Mehr als 999 ungelesene Benachrichtigungen"
    )
    await expect(page).to_have_title("(999+) Benachrichtigungen")
    await page.screenshot(path=artifacts / "notification-center-capped.png")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=artifacts / "notification-center-capped-390.png")

    # 1,001 unread now; counting on from the capped 1,000 would say "1001".
    await producer.enqueue(test_queue, TestJobData(user_id=user.id, message="noch eine"))
    await expect(items(page, "Vorgang abgeschlossen")).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    await expect(badge).to_have_text("999+")

    # Read one: 1,000 left, still capped (the server says so, the page asks it).
    shown_unread = page.locator("#notification-list > li.unread")
    shown = await shown_unread.count()
    await shown_unread.first.locator(".mark-read").click()
    await expect(shown_unread).to_have_count(shown - 1)
    await expect(badge).to_have_text("999+")
    # One more: 999, exact again, and from here counted locally.
    await shown_unread.first.locator(".mark-read").click()
    await expect(badge).to_have_text("999")
    await expect(badge).to_have_attribute("aria-label", "999 ungelesene Benachrichtigungen")
    await producer.enqueue(test_queue, TestJobData(user_id=user.id, message="die tausendste"))
    await expect(items(page, "Vorgang abgeschlossen")).to_have_count(2, timeout=LIVE_TIMEOUT_MS)
    await expect(badge).to_have_text("999+")
