from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from ailawyer.db import migrate
from ailawyer.db.engine import Database
from ailawyer.db.models import User
from ailawyer.security import verify_password
from tests.fixtures.processes import child_env, run_cli

pytestmark = pytest.mark.slow


async def users_in(url: str) -> list[User]:
    database = Database(url, null_pool=True)
    try:
        async with database.session() as session:
            return list((await session.execute(select(User).order_by(User.email))).scalars())
    finally:
        await database.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'users.db'}"
    else:
        url = request.getfixturevalue("empty_pg_url")
    migrate.upgrade(url)
    return url


def test_create_reads_password_from_stdin_and_hashes_it(database_url: str) -> None:
    result = run_cli(
        "users",
        "create",
        "--email",
        "Anna@Kanzlei.DE",
        "--name",
        "Anna",
        "--role",
        "anwalt",
        "--password-stdin",
        env=child_env(DATABASE_URL=database_url),
        stdin="correct horse\n",
    )
    assert result.returncode == 0, result.stderr
    [user] = asyncio.run(users_in(database_url))
    assert (user.email, user.role, user.active) == ("anna@kanzlei.de", "ANWALT", True)
    assert user.password_hash.startswith("$argon2")
    assert verify_password("correct horse", user.password_hash)
    assert "correct horse" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "ANNA@kanzlei.de", "--role", "ADMIN"], "already exists"),
        (["--email", "bert@kanzlei.de", "--role", "BOSS"], "unknown role"),
        (["--email", "not-an-email", "--role", "ADMIN"], "not an e-mail"),
    ],
)
def test_refusals_exit_non_zero_with_one_line_and_write_nothing(
    database_url: str, args: list[str], message: str
) -> None:
    first = run_cli(
        "users",
        "create",
        "--email",
        "anna@kanzlei.de",
        "--name",
        "Anna",
        "--role",
        "ADMIN",
        "--password-stdin",
        env=child_env(DATABASE_URL=database_url),
        stdin="password-1\n",
    )
    assert first.returncode == 0, first.stderr
    result = run_cli(
        "users",
        "create",
        *args,
        "--name",
        "Zweiter",
        "--password-stdin",
        env=child_env(DATABASE_URL=database_url),
        stdin="password-2\n",
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert [u.name for u in asyncio.run(users_in(database_url))] == ["Anna"]


def create_anna(database_url: str) -> None:
    result = run_cli(
        "users", "create", "--email", "anna@kanzlei.de", "--name", "Anna", "--role", "ANWALT",
        "--password-stdin", env=child_env(DATABASE_URL=database_url), stdin="password-1\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_set_role_and_set_password_change_the_account(database_url: str) -> None:
    create_anna(database_url)
    env = child_env(DATABASE_URL=database_url)
    result = run_cli(
        "users", "set-role", "--email", "ANNA@kanzlei.de", "--role", "sekretariat", env=env
    )
    assert result.returncode == 0, result.stderr
    # No session was open: nothing to revoke, nothing to announce.
    assert result.stdout.strip() == "anna@kanzlei.de is now SEKRETARIAT; 0 session(s) revoked"
    result = run_cli(
        "users", "set-password", "--email", "anna@kanzlei.de", "--password-stdin",
        env=env, stdin="password-2\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [user] = asyncio.run(users_in(database_url))
    assert user.role == "SEKRETARIAT"
    assert verify_password("password-2", user.password_hash)
    assert not verify_password("password-1", user.password_hash)


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["set-role", "--email", "anna@kanzlei.de", "--role", "BOSS"], "", "unknown role"),
        (["set-role", "--email", "bert@kanzlei.de", "--role", "ADMIN"], "", "no user"),
        (["set-password", "--email", "anna@kanzlei.de", "--password-stdin"], "kurz\n", "at least"),
        (
            ["set-password", "--email", "bert@kanzlei.de", "--password-stdin"],
            "lang genug\n",
            "no user",
        ),
    ],
)
def test_account_changes_refused_exit_non_zero_with_one_line_and_change_nothing(
    database_url: str, args: list[str], stdin: str, message: str
) -> None:
    create_anna(database_url)
    result = run_cli("users", *args, env=child_env(DATABASE_URL=database_url), stdin=stdin)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    [user] = asyncio.run(users_in(database_url))
    assert user.role == "ANWALT"
    assert verify_password("password-1", user.password_hash)
