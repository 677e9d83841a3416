"""The notification center's API: one's own notifications only, and nothing else."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from ailawyer import messages
from ailawyer.db.engine import Database
from ailawyer.db.models import Notification
from ailawyer.services.notifications import UNREAD_CAP, NotificationDraft, persist_notifications
from tests.fixtures.live_app import LoggedIn

pytestmark = pytest.mark.slow


async def _notify(db: Database, user_id: str, title: str) -> str:
    async with db.session() as session:
        [(row, _)] = await persist_notifications(
            session,
            [NotificationDraft(user_id=user_id, type="info", title=title, message=f"{title}!")],
        )
        assert row is not None
        return row.id


async def _row(db: Database, notification_id: str) -> Notification:
    async with db.session() as session:
        row = await session.scalar(select(Notification).where(Notification.id == notification_id))
        assert row is not None
        return row


async def test_list_is_own_newest_first_with_unread_count(
    db: Database, as_lawyer: LoggedIn, as_other: LoggedIn
) -> None:
    mine = []
    for index in range(5):
        mine.append(await _notify(db, as_lawyer.user.id, f"Meins {index}"))
        await asyncio.sleep(0.002)  # distinct timestamps
    await _notify(db, as_other.user.id, "Fremd")

    first = await as_lawyer.http.get("/api/notifications", params={"limit": 3})
    assert first.status_code == 200
    page = first.json()
    assert [item["id"] for item in page["items"]] == mine[::-1][:3]
    assert page["unreadCount"] == 5
    assert page["unreadCountCapped"] is False
    assert page["nextCursor"]
    assert {item["userId"] for item in page["items"]} == {as_lawyer.user.id}

    second = await as_lawyer.http.get(
        "/api/notifications", params={"limit": 3, "cursor": page["nextCursor"]}
    )
    assert [item["id"] for item in second.json()["items"]] == mine[::-1][3:]
    assert second.json()["nextCursor"] is None

    theirs = (await as_other.http.get("/api/notifications")).json()
    assert [item["title"] for item in theirs["items"]] == ["Fremd"]
    assert theirs["unreadCount"] == 1


async def test_read_dismiss_and_read_all_touch_only_own(
    db: Database, as_lawyer: LoggedIn, as_other: LoggedIn
) -> None:
    mine = [await _notify(db, as_lawyer.user.id, f"Meins {i}") for i in range(3)]
    theirs = await _notify(db, as_other.user.id, "Fremd")

    # Another user's notification does not exist for me: 404 for every action.
    for action in ("read", "dismiss"):
        response = await as_lawyer.http.post(f"/api/notifications/{theirs}/{action}")
        assert response.status_code == 404, action
        assert response.json() == {"error": messages.NOTIFICATION_NOT_FOUND}
    unknown = await as_lawyer.http.post("/api/notifications/c0000000000000000000000000/read")
    assert unknown.status_code == 404

    read = await as_lawyer.http.post(f"/api/notifications/{mine[0]}/read")
    assert read.status_code == 200
    assert read.json()["read"] is True
    unread = (await as_lawyer.http.get("/api/notifications", params={"unreadOnly": "true"})).json()
    assert {item["id"] for item in unread["items"]} == set(mine[1:])
    assert unread["unreadCount"] == 2

    dismissed = await as_lawyer.http.post(f"/api/notifications/{mine[1]}/dismiss")
    assert dismissed.status_code == 200
    assert dismissed.json()["dismissed"] is True
    listed = (await as_lawyer.http.get("/api/notifications")).json()
    assert mine[1] not in {item["id"] for item in listed["items"]}

    read_all = await as_lawyer.http.post("/api/notifications/read-all")
    assert read_all.status_code == 200
    assert read_all.json() == {"updated": 1, "unreadCount": 0, "unreadCountCapped": False}

    # The other user's notification is untouched by all of it.
    row = await _row(db, theirs)
    assert row.read is False
    assert row.dismissed is False


async def test_the_unread_count_stops_at_the_cap(db: Database, as_lawyer: LoggedIn) -> None:
    drafts = [
        NotificationDraft(user_id=as_lawyer.user.id, type="info", title=f"N{i}", message="M")
        for i in range(UNREAD_CAP + 1)
    ]
    async with db.session() as session:
        await persist_notifications(session, drafts)
    for params in ({"limit": 1}, {"limit": 1, "unreadOnly": "true"}):
        page = (await as_lawyer.http.get("/api/notifications", params=params)).json()
        assert (page["unreadCount"], page["unreadCountCapped"]) == (UNREAD_CAP, True), params
    read_all = await as_lawyer.http.post("/api/notifications/read-all")
    assert read_all.json() == {
        "updated": UNREAD_CAP + 1,
        "unreadCount": 0,
        "unreadCountCapped": False,
    }


async def test_bad_parameters_are_4xx(as_lawyer: LoggedIn) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"limit": "viele"}, {"unreadOnly": "vielleicht"}):
        response = await as_lawyer.http.get("/api/notifications", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"] == messages.INVALID_INPUT
    cursor = await as_lawyer.http.get("/api/notifications", params={"cursor": "%%%"})
    assert cursor.status_code == 400
    too_long = await as_lawyer.http.post(f"/api/notifications/{'x' * 65}/read")
    assert too_long.status_code == 422
