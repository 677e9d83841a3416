"""`ailawyer db wait` and `ailawyer seed`, against real PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest

from ailawyer.db import migrate
from ailawyer.security import verify_password
from ailawyer.services.settings import DEFAULTS
from tests.deploy.support import ailawyer, process_env, rows
from tests.fixtures.services import PG_ADMIN_URL, create_pg_database, drop_pg_database, free_port

pytestmark = pytest.mark.slow

ADMIN = {
    "ADMIN_EMAIL": "Chefin@Kanzlei.de",
    "ADMIN_PASSWORD": "erstes-passwort-1",
    "ADMIN_NAME": "Dr. Chefin",
}


@pytest.fixture(params=["postgres", "sqlite"])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'seed.db'}"
    else:
        url = request.getfixturevalue("empty_pg_url")
    migrate.upgrade(url)
    return url


def test_seed_creates_one_admin_and_the_default_settings_once(migrated_url: str) -> None:
    first = ailawyer("seed", DATABASE_URL=migrated_url, **ADMIN)
    assert first.returncode == 0, first.stderr
    assert "first admin created: chefin@kanzlei.de" in first.stdout
    assert ADMIN["ADMIN_PASSWORD"] not in first.stdout + first.stderr

    state = asyncio.run(rows(migrated_url))
    [(_, email, name, role, active, password_hash)] = state["users"]
    assert (email, name, role, active) == ("chefin@kanzlei.de", "Dr. Chefin", "ADMIN", True)
    assert verify_password(ADMIN["ADMIN_PASSWORD"], password_hash)
    assert [key for key, *_ in state["settings"]] == sorted(item.key for item in DEFAULTS)

    again = ailawyer("seed", DATABASE_URL=migrated_url, **ADMIN)
    assert again.returncode == 0, again.stderr
    assert "first admin created" not in again.stdout
    assert asyncio.run(rows(migrated_url)) == state


def test_seed_adds_no_admin_once_any_user_exists(migrated_url: str) -> None:
    command = ["users", "create", "--email", "anna@kanzlei.de", "--name", "Anna"]
    created = ailawyer(
        *command,
        "--role",
        "ANWALT",
        "--password-stdin",
        stdin="anna-passwort\n",
        DATABASE_URL=migrated_url,
    )
    assert created.returncode == 0, created.stderr
    result = ailawyer("seed", DATABASE_URL=migrated_url, **ADMIN)
    assert result.returncode == 0, result.stderr
    users = asyncio.run(rows(migrated_url))["users"]
    assert [u[1] for u in users] == ["anna@kanzlei.de"]


def test_seed_without_admin_variables_only_says_how(migrated_url: str) -> None:
    result = ailawyer("seed", DATABASE_URL=migrated_url, ADMIN_EMAIL=None, ADMIN_PASSWORD=None)
    assert result.returncode == 0, result.stderr
    assert "ADMIN_EMAIL" in result.stdout
    state = asyncio.run(rows(migrated_url))
    assert state["users"] == [] and len(state["settings"]) == len(DEFAULTS)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"ADMIN_EMAIL": "chefin@kanzlei.de", "ADMIN_PASSWORD": None}, "both"),
        ({"ADMIN_EMAIL": "chefin@kanzlei.de", "ADMIN_PASSWORD": "kurz"}, "at least"),
        ({"ADMIN_EMAIL": "keine-adresse", "ADMIN_PASSWORD": "lang-genug-1"}, "e-mail"),
    ],
)
def test_seed_refuses_a_bad_first_admin_and_writes_no_user(
    empty_pg_url: str, variables: dict[str, str | None], message: str
) -> None:
    migrate.upgrade(empty_pg_url)
    result = ailawyer("seed", DATABASE_URL=empty_pg_url, **variables)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error:") and message in line, line
    assert "kurz" not in line
    assert asyncio.run(rows(empty_pg_url))["users"] == []


def test_concurrent_upgrade_and_seed_on_an_empty_database(empty_pg_url: str) -> None:
    """App and worker containers start together; both migrate and seed at once."""
    script = "ailawyer db upgrade && ailawyer seed"
    processes = [
        subprocess.Popen(
            ["sh", "-c", script],
            env=process_env(DATABASE_URL=empty_pg_url, **ADMIN),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    assert sum("first admin created" in out for out, _ in outputs) == 1
    state = asyncio.run(rows(empty_pg_url))
    assert len(state["users"]) == 1 and len(state["settings"]) == len(DEFAULTS)


def test_db_wait_returns_at_once_when_the_database_answers(empty_pg_url: str) -> None:
    result = ailawyer("db", "wait", "--timeout", "10", DATABASE_URL=empty_pg_url)
    assert result.returncode == 0, result.stderr
    assert "is up" in result.stdout


def test_db_wait_gives_up_after_its_bound_without_showing_the_password() -> None:
    url = f"postgresql://postgres:geheim-123@127.0.0.1:{free_port()}/nothing"
    started = time.monotonic()
    result = ailawyer("db", "wait", "--timeout", "2", DATABASE_URL=url)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "not reachable after 2s" in result.stderr
    assert "geheim-123" not in result.stdout + result.stderr
    # Two seconds of trying, plus the interpreter's start.
    assert 2 <= elapsed < 15, elapsed


def test_db_wait_keeps_trying_until_the_database_appears(tmp_path: Path) -> None:
    """A database created while `db wait` polls is found before the bound."""
    url = create_pg_database()
    name = url.rsplit("/", 1)[1]
    drop_pg_database(url)  # a name that does not exist yet
    try:
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(ailawyer, "db", "wait", "--timeout", "30", DATABASE_URL=url)
            time.sleep(4)
            assert not waiting.done(), waiting.result()
            recreate(name)
            result = waiting.result(timeout=30)
        assert result.returncode == 0, result.stderr
        assert "is up" in result.stdout
    finally:
        drop_pg_database(url)


def recreate(name: str) -> None:
    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
