"""Fixtures of the worker tests: production-mode workers that recover a dead peer's
jobs within seconds, the test queues, users to notify.

Isolation: every test has its own BullMQ prefix (workers and producer share it),
and the `db` fixture truncates the tables afterwards (after `processes` stopped
the workers).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import Role, User
from ailawyer.services.users import create_user
from tests.fixtures import queues
from tests.fixtures.processes import FAST_WORKER, production


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    return (queues.MODULE,)


@pytest.fixture
def process_env(process_env: dict[str, str], process_dir: Path) -> dict[str, str]:
    """JSON log lines to read, and short locks, stall checks and heartbeats."""
    return {**process_env, **production(process_dir / "files"), **FAST_WORKER}


async def _user(db: Database, email: str, role: Role) -> User:
    async with db.session() as session:
        return await create_user(
            session, email=email, name=email.split("@")[0], password="x" * 12, role=role
        )


@pytest.fixture
async def owner(db: Database) -> User:
    return await _user(db, "anwalt@kanzlei.test", Role.ANWALT)


@pytest.fixture
async def admin(db: Database) -> User:
    return await _user(db, "admin@kanzlei.test", Role.ADMIN)
