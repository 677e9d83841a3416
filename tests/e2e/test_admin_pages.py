"""The admin system and settings pages and the dashboard's job search in Chromium,
against a real app, worker, Redis and PostgreSQL; each page at 1280 and 390 px."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from ailawyer.db.engine import Database
from ailawyer.db.models import Role, SystemSetting
from ailawyer.queues import TestJobData, test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.services.settings import decode_value, get_setting
from ailawyer.version import app_version
from tests.e2e.support import Stack, log_in
from tests.fixtures import retryable_queue
from tests.fixtures.live_app import make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 20_000
SERVICES = ("app", "postgres", "redis", "worker", "minio", "meilisearch", "onlyoffice")
# A day in buckets of ten minutes.
CELLS = 144
# On a phone, in buckets of half an hour.
PHONE_CELLS = 48


async def _logged(stack: Stack, pattern: str, timeout_s: float = 30) -> None:
    """Until the worker's log (console format) has a line matching `pattern`."""
    found = re.compile(pattern)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not found.search(stack.worker.output()):
        assert stack.worker.running, stack.worker.output()[-3000:]
        assert asyncio.get_running_loop().time() < deadline, (
            f"no {pattern!r} in the worker's log:\n{stack.worker.output()[-3000:]}"
        )
        await asyncio.sleep(0.2)


async def _phone(page: Page, artifacts: Path, name: str, phone_cells: int | None = None) -> None:
    """At 390 px nothing is wider than the screen; screenshots of both widths."""
    await page.screenshot(path=artifacts / f"{name}.png", full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    if phone_cells is not None:  # the strips redrawn in wider cells
        strip = page.locator('li.dep[data-service="postgres"] .strip .cell')
        await expect(strip).to_have_count(phone_cells, timeout=TIMEOUT_MS)
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than a phone"
    await page.screenshot(path=artifacts / f"{name}-phone.png", full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})


async def test_system_page_shows_every_dependency_with_its_history(
    stack: Stack, db: Database, browser: Browser, artifacts: Path
) -> None:
    admin = await make_user(db, Role.ADMIN)
    page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="de-DE")
    await log_in(page, stack.url, admin.email, "/admin/system")

    items = page.locator("#health-list li.dep")
    await expect(items).to_have_count(len(SERVICES), timeout=TIMEOUT_MS)
    for name in SERVICES:
        item = page.locator(f'li.dep[data-service="{name}"]')
        await expect(item.locator(".strip .cell")).to_have_count(CELLS, timeout=TIMEOUT_MS)
    # Up and measured: the app took a sample at its start, so the newest cell
    # of each running dependency is green, the day before it grey (no samples).
    for name in ("app", "postgres", "redis"):
        item = page.locator(f'li.dep[data-service="{name}"]')
        await expect(item.locator(".dep-state")).to_have_text("gesund", timeout=TIMEOUT_MS)
        await expect(item.locator(".dep-latency")).to_have_text(re.compile(r"^\d+ ms$"))
        await expect(item.locator(".strip .cell").last).to_have_class("cell healthy")
        await expect(item.locator(".strip .cell").first).to_have_class("cell gap")
        assert "gesund" in (await item.locator(".strip .cell").last.get_attribute("title") or "")
    # Peers without a URL: not configured, never red.
    minio = page.locator('li.dep[data-service="minio"]')
    await expect(minio.locator(".dep-state")).to_have_text("nicht konfiguriert")
    await expect(minio.locator(".strip .cell.unhealthy")).to_have_count(0)
    # The worker is alive now (its sample at the app's start may predate it).
    worker = page.locator('li.dep[data-service="worker"]')
    await expect(worker.locator(".dep-state")).to_have_text("gesund", timeout=TIMEOUT_MS)

    versions = page.locator("#versions")
    await expect(versions).to_contain_text(f"App{app_version()}")
    await expect(versions).to_contain_text(re.compile(r"PostgreSQL\d+"))
    await expect(versions).to_contain_text(re.compile(r"(Redis|Valkey)\d+\.\d+"))
    worker_row = page.locator("#worker-list li[data-worker]")
    await expect(worker_row).to_have_count(1)
    await expect(worker_row.locator(".worker-version")).to_have_text(app_version())
    await _phone(page, artifacts, "admin-system", phone_cells=PHONE_CELLS)


async def test_settings_page_changes_the_workers_log_level(
    stack: Stack, db: Database, producer: QueueProducer, browser: Browser, artifacts: Path
) -> None:
    admin = await make_user(db, Role.ADMIN)
    # At info, a job's notification is persisted without a debug line.
    before = await producer.enqueue(test_queue, TestJobData(user_id=admin.id, message="vorher"))
    await _logged(stack, rf"\[info\s*\] job\.completed .*jobId={before.id}")
    assert "notification.persisted" not in stack.worker.output()

    page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="de-DE")
    await log_in(page, stack.url, admin.email, "/admin/einstellungen")
    logging = page.locator('section[data-category="logging"]')
    await expect(logging.get_by_role("heading", name="Protokollierung")).to_be_visible()
    await expect(page.locator('section[data-category="maintenance"] h2')).to_have_text("Wartung")
    form = page.locator('form[data-key="log.level"]')
    level = form.get_by_label("Protokollierungsstufe")
    await expect(level).to_have_value("info")
    await level.select_option("debug")
    await form.get_by_role("button", name="Speichern").click()
    await expect(form.locator(".setting-message")).to_have_text("Gespeichert")

    # The running worker heard it and logs at debug from now on.
    await _logged(stack, r"\[info\s*\] settings\.applied .*key=log\.level .*value=debug")
    after = await producer.enqueue(test_queue, TestJobData(user_id=admin.id, message="nachher"))
    await _logged(stack, r"\[debug\s*\] notification\.persisted ")
    await _logged(stack, rf"\[info\s*\] job\.completed .*jobId={after.id}")

    # A refused value: the server's message beside the field, nothing stored.
    retention = page.locator('form[data-key="notifications.retention_days"]')
    field = retention.get_by_label("Entfernte Benachrichtigungen aufbewahren (Tage)")
    await field.fill("0")
    await retention.get_by_role("button", name="Speichern").click()
    message = retention.locator(".setting-message")
    await expect(message).to_have_text("Erlaubt sind Werte ab 1 bis 3650")
    await expect(field).to_have_attribute("aria-invalid", "true")
    await page.reload()
    await expect(field).to_have_value("90")
    await field.fill("2.5")
    await retention.get_by_role("button", name="Speichern").click()
    await expect(message).to_have_text("Nur ganze Zahlen sind erlaubt")
    await expect(page.locator('form[data-key="log.level"] select')).to_have_value("debug")
    await _phone(page, artifacts, "admin-settings")


async def test_settings_page_edits_boolean_and_json_settings(
    stack: Stack, db: Database, browser: Browser, artifacts: Path
) -> None:
    """No built-in setting is a boolean or JSON yet; the page handles them anyway."""
    admin = await make_user(db, Role.ADMIN)
    async with db.session() as session:
        session.add_all(
            [
                SystemSetting(
                    key="beispiel.aktiv", value="false", type="boolean", label="Beispiel aktiv"
                ),
                SystemSetting(
                    key="beispiel.zuordnung",
                    value='{"a": 1}',
                    type="json",
                    label="Beispiel-Zuordnung",
                ),
            ]
        )
    page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="de-DE")
    await log_in(page, stack.url, admin.email, "/admin/einstellungen")
    general = page.locator('section[data-category="general"]')
    await expect(general.locator("h2")).to_have_text("Allgemein")

    flag = general.locator('form[data-key="beispiel.aktiv"]')
    box = flag.get_by_label("Beispiel aktiv")
    await expect(box).not_to_be_checked()
    await box.check()
    await flag.get_by_role("button", name="Speichern").click()
    await expect(flag.locator(".setting-message")).to_have_text("Gespeichert")
    assert await _stored(db, "beispiel.aktiv") is True

    mapping = general.locator('form[data-key="beispiel.zuordnung"]')
    area = mapping.get_by_label("Beispiel-Zuordnung")
    await expect(area).to_have_value('{\n  "a": 1\n}')
    await area.fill('{"b": [1, 2')
    await mapping.get_by_role("button", name="Speichern").click()
    await expect(mapping.locator(".setting-message")).to_have_text("Kein gültiges JSON.")
    assert await _stored(db, "beispiel.zuordnung") == {"a": 1}
    await area.fill('{"b": [1, 2]}')
    await mapping.get_by_role("button", name="Speichern").click()
    await expect(mapping.locator(".setting-message")).to_have_text("Gespeichert")
    assert await _stored(db, "beispiel.zuordnung") == {"b": [1, 2]}
    await _phone(page, artifacts, "admin-settings-types")


async def _stored(db: Database, key: str) -> object:
    async with db.session() as session:
        item = await get_setting(session, key)
        return decode_value(item.type, item.value)


async def test_job_search_opens_a_job_of_any_queue(
    stack: Stack, db: Database, producer: QueueProducer, browser: Browser, artifacts: Path
) -> None:
    admin = await make_user(db, Role.ADMIN)
    job = await producer.enqueue(
        retryable_queue.retryable_queue, TestJobData(user_id=admin.id, message="x")
    )
    page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="de-DE")
    await log_in(page, stack.url, admin.email, "/admin/queues")

    search = page.get_by_label("Job-ID suchen")
    await search.fill(job.id)
    await page.get_by_role("button", name="Suchen").click()
    detail = page.locator("#job-dialog")
    await expect(detail).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#job-dialog-title")).to_have_text(f"Job {job.id}")
    await expect(detail.locator(".data")).to_contain_text(admin.id)
    await expect(page.locator("#job-search-result")).to_have_text("Gefunden in „retryable“.")
    await page.screenshot(path=artifacts / "queue-dashboard-search.png", full_page=True)
    await detail.get_by_role("button", name="Schließen").click()

    await search.fill("gibt-es-nicht-42")
    await page.get_by_role("button", name="Suchen").click()
    result = page.locator("#job-search-result")
    await expect(result).to_have_text("Job „gibt-es-nicht-42“ nicht gefunden.")
    await expect(detail).to_be_hidden()
    await _phone(page, artifacts, "queue-dashboard-search-missing")


async def test_admin_pages_are_refused_to_non_admins(
    stack: Stack, db: Database, browser: Browser, artifacts: Path
) -> None:
    lawyer = await make_user(db, Role.ANWALT)
    page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="de-DE")
    await log_in(page, stack.url, lawyer.email, "/benachrichtigungen")
    for path in ("/admin/system", "/admin/einstellungen"):
        response = await page.goto(stack.url + path)
        assert response is not None and response.status == 403
        await expect(page.get_by_role("heading", name="Keine Berechtigung")).to_be_visible()
        await expect(page.locator("#health-list, #settings")).to_have_count(0)
    await page.screenshot(path=artifacts / "admin-forbidden.png", full_page=True)
