"""`ailawyer seed`: what a new installation needs in its database.

Run by the container entrypoint on every start, so it must change nothing the
second time: default settings are added only where missing, and the first admin
only while no user exists at all.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import typer
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ailawyer.cli._common import fail, setup
from ailawyer.errors import AppError


class FirstAdmin(BaseSettings):
    """The first admin account, from ADMIN_EMAIL / ADMIN_PASSWORD / ADMIN_NAME."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    email: str = Field(default="", validation_alias="ADMIN_EMAIL")
    password: SecretStr = Field(default=SecretStr(""), validation_alias="ADMIN_PASSWORD")
    name: str = Field(default="Administrator", validation_alias="ADMIN_NAME")

    @property
    def configured(self) -> bool:
        return bool(self.email.strip() or self.password.get_secret_value())


@dataclass(frozen=True)
class SeedResult:
    settings_added: int
    admin_email: str | None
    users_before: int


async def seed_database(url: str, admin: FirstAdmin) -> SeedResult:
    """Default settings, and the first admin if `admin` is configured and no user exists."""
    from ailawyer.cli._database import schema_lock
    from ailawyer.config import get_settings
    from ailawyer.db.engine import Database
    from ailawyer.db.models.user import Role
    from ailawyer.services.settings import seed_defaults
    from ailawyer.services.users import count_users, create_user

    async with schema_lock(url):
        database = Database(url, null_pool=True)
        try:
            async with database.session() as session:
                # A fresh database starts at the configured level, not a fixed "info".
                added = await seed_defaults(
                    session, initial={"log.level": get_settings().log_level}
                )
                users = await count_users(session)
                created: str | None = None
                if users == 0 and admin.configured:
                    user = await create_user(
                        session,
                        email=admin.email,
                        name=admin.name.strip() or "Administrator",
                        password=admin.password.get_secret_value(),
                        role=Role.ADMIN,
                    )
                    created = user.email
            return SeedResult(settings_added=added, admin_email=created, users_before=users)
        finally:
            await database.dispose()


def seed() -> None:
    """Add default settings and, while no user exists, the first admin from ADMIN_* vars."""
    settings = setup("cli", log_to_file=False)
    try:
        admin = FirstAdmin()
    except ValidationError as exc:
        fail(f"invalid ADMIN_* variables: {exc.error_count()} error(s)")
    if admin.configured and not (admin.email.strip() and admin.password.get_secret_value()):
        fail("set both ADMIN_EMAIL and ADMIN_PASSWORD to create the first admin (or neither)")
    try:
        result = asyncio.run(seed_database(settings.effective_database_url, admin))
    except AppError as exc:
        fail(f"first admin not created: {exc.message}")
    except OSError as exc:
        fail(f"database unreachable: {exc.strerror or exc}")

    typer.echo(f"default settings: {result.settings_added} added")
    if result.admin_email:
        typer.echo(f"first admin created: {result.admin_email}")
    elif result.users_before:
        typer.echo(f"users: {result.users_before} present, no admin created")
    else:
        typer.echo(
            "no user exists yet: set ADMIN_EMAIL and ADMIN_PASSWORD, "
            "or run `ailawyer users create --role ADMIN ...`"
        )
