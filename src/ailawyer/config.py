"""Typed configuration, read once from the environment and an optional `.env`.

Every process builds its settings in its entry point (`get_settings()`); nothing
reads the environment at import time. Invalid values fail at start with a message
naming the variable (see `format_settings_error`).
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from ailawyer.deployment import Deployment
from ailawyer.redis_target import RedisTarget

LogLevel = Literal["trace", "debug", "info", "warn", "error", "fatal"]
TracesSampler = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
]

# Placeholders that must never protect a production deployment.
_WEAK_SECRETS = {"", "changeme", "change-me", "secret", "dev-secret", "please-change-me"}

DEFAULT_APP_LOG_PATH = "/var/log/ai-lawyer/app"
DEFAULT_WORKER_LOG_PATH = "/var/log/ai-lawyer/worker"


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


def normalize_database_url(url: str) -> str:
    """Pick the async driver for a plain `postgresql://` or `sqlite:///` URL."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite:///")):
        return url
    raise ValueError(
        "must start with postgresql:// or sqlite:/// (async drivers are chosen for you)"
    )


class Settings(BaseSettings):
    """All configuration of app and worker. `.env.example` documents each variable."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    app_env: AppEnv = Field(
        default=AppEnv.DEVELOPMENT,
        validation_alias=AliasChoices("APP_ENV", "NODE_ENV"),
    )
    data_dir: Path = Field(default=Path("data"), validation_alias="DATA_DIR")

    redis_url: str = Field(default="redis://localhost:6379", validation_alias="REDIS_URL")
    # The sentinels' own password (a Sentinel REDIS_URL's password is the data nodes').
    redis_sentinel_password: SecretStr | None = Field(
        default=None, validation_alias="REDIS_SENTINEL_PASSWORD"
    )
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")

    auth_secret: SecretStr = Field(default=SecretStr(""), validation_alias="AUTH_SECRET")
    session_max_age_s: Annotated[int, Field(ge=60)] = Field(
        default=8 * 3600, validation_alias="SESSION_MAX_AGE"
    )
    # Verified sessions answered from memory this long (0: every request asks the database).
    session_cache_ttl_s: Annotated[float, Field(ge=0, le=10)] = Field(
        default=1.0, validation_alias="SESSION_CACHE_TTL"
    )
    session_cache_size: Annotated[int, Field(ge=0)] = Field(
        default=10_000, validation_alias="SESSION_CACHE_SIZE"
    )
    login_rate_limit: Annotated[int, Field(ge=1)] = Field(
        default=5, validation_alias="LOGIN_RATE_LIMIT"
    )
    login_rate_window_s: Annotated[int, Field(ge=1)] = Field(
        default=300, validation_alias="LOGIN_RATE_WINDOW"
    )
    # Unset: a multiple of LOGIN_RATE_LIMIT (see `effective_login_*_limit`).
    login_address_limit: Annotated[int, Field(ge=1)] | None = Field(
        default=None, validation_alias="LOGIN_ADDRESS_LIMIT"
    )
    login_account_limit: Annotated[int, Field(ge=1)] | None = Field(
        default=None, validation_alias="LOGIN_ACCOUNT_LIMIT"
    )
    # How often each app process checks the sessions of its connected sockets
    # against the database (logout and deactivation end them at once anyway).
    session_recheck_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=30.0, validation_alias="SESSION_RECHECK_INTERVAL"
    )
    max_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=1_048_576, validation_alias="MAX_BODY_BYTES"
    )

    log_level: LogLevel = Field(default="info", validation_alias="LOG_LEVEL")
    log_file_path: str | None = Field(default=None, validation_alias="LOG_FILE_PATH")
    log_max_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=10 * 1024 * 1024, validation_alias="LOG_MAX_BYTES"
    )
    # SQLAlchemy's statements in the log (at info, without parameters), whatever
    # LOG_LEVEL says; the drivers themselves stay at warning (logs.py).
    log_sql: bool = Field(default=False, validation_alias="LOG_SQL")
    # The share of `job.completed` lines the worker writes (0.1: one in ten).
    # Failures and retries are always logged; metrics count every job.
    job_log_sample: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=1.0, validation_alias="JOB_LOG_SAMPLE"
    )

    # The worker's fetch loop: ours, one loop per slot with fetchNext
    # (worker/lean.py), or bullmq's own Worker loop, for diagnosis.
    worker_loop: Literal["lean", "bullmq"] = Field(default="lean", validation_alias="WORKER_LOOP")
    worker_concurrency: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=5, validation_alias="WORKER_CONCURRENCY"
    )
    shutdown_timeout: Annotated[float, Field(gt=0)] = Field(
        default=25.0, validation_alias="SHUTDOWN_TIMEOUT"
    )
    worker_lock_duration_ms: Annotated[int, Field(ge=500)] = Field(
        default=30_000, validation_alias="WORKER_LOCK_DURATION_MS"
    )
    worker_stalled_interval_ms: Annotated[int, Field(ge=500)] = Field(
        default=30_000, validation_alias="WORKER_STALLED_INTERVAL_MS"
    )
    worker_heartbeat_ttl_s: Annotated[int, Field(ge=2)] = Field(
        default=15, validation_alias="WORKER_HEARTBEAT_TTL"
    )
    # Extra queue modules (comma separated), for queues that live outside the
    # package, e.g. in tests or in a later feature's plug-in. The worker imports
    # their QUEUES and PROCESSORS, the app their QUEUES (retry and dashboard).
    worker_extra_queues: str = Field(default="", validation_alias="WORKER_EXTRA_QUEUES")
    # Port of the worker's Prometheus endpoint (/metrics); unset = no endpoint.
    worker_metrics_port: Annotated[int, Field(ge=1, le=65_535)] | None = Field(
        default=None, validation_alias="WORKER_METRICS_PORT"
    )
    # BullMQ key prefix shared by producers and workers. "bull" is the contract with
    # other BullMQ producers; tests give every test a prefix of its own.
    bullmq_prefix: Annotated[
        str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    ] = Field(default="bull", validation_alias="BULLMQ_PREFIX")

    minio_endpoint: str | None = Field(default=None, validation_alias="MINIO_ENDPOINT")
    meilisearch_url: str | None = Field(default=None, validation_alias="MEILISEARCH_URL")
    onlyoffice_internal_url: str | None = Field(
        default=None, validation_alias="ONLYOFFICE_INTERNAL_URL"
    )
    health_check_timeout_ms: Annotated[int, Field(ge=50, le=30_000)] = Field(
        default=2000, validation_alias="HEALTH_CHECK_TIMEOUT_MS"
    )
    # How often the app samples the health checks for the system page's history.
    health_history_interval_s: Annotated[int, Field(ge=1, le=3600)] = Field(
        default=30, validation_alias="HEALTH_HISTORY_INTERVAL_S"
    )
    # Traces over OTLP/HTTP: on when the endpoint is set (docs/operations.md, "Traces").
    # The standard OpenTelemetry names, so a collector's usual setup applies unchanged.
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_sdk_disabled: bool = Field(default=False, validation_alias="OTEL_SDK_DISABLED")
    # Which traces are kept: the SDK's own sampler names (no `jaeger_remote`, no
    # `xray`), and the ratio of the `traceidratio` ones.
    otel_traces_sampler: TracesSampler = Field(
        default="parentbased_always_on", validation_alias="OTEL_TRACES_SAMPLER"
    )
    otel_traces_sampler_arg: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=1.0, validation_alias="OTEL_TRACES_SAMPLER_ARG"
    )

    @field_validator("app_env", mode="before")
    @classmethod
    def _lower_env(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            return "warn" if value == "warning" else value
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _check_database_url(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            return normalize_database_url(value.strip())
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        value = value.strip()
        RedisTarget.parse(value)  # raises ValueError saying what is wrong
        return value

    @field_validator("redis_sentinel_password", mode="before")
    @classmethod
    def _empty_password_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value else value

    @field_validator("otel_traces_sampler", "otel_traces_sampler_arg", mode="before")
    @classmethod
    def _sampler_words(cls, value: object, info: ValidationInfo) -> object:
        """Blank is the default (as the SDK reads it); names in any case."""
        if isinstance(value, str):
            value = value.strip().lower()
            if not value:
                return cls.model_fields[info.field_name or ""].default
        return value

    @field_validator(
        "worker_metrics_port", "login_address_limit", "login_account_limit", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "minio_endpoint",
        "meilisearch_url",
        "onlyoffice_internal_url",
        "otel_exporter_otlp_endpoint",
        mode="before",
    )
    @classmethod
    def _check_http_url(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if not value.startswith(("http://", "https://")):
                raise ValueError("must be an http:// or https:// URL")
            return value.rstrip("/")
        return value

    @model_validator(mode="after")
    def _check_secret(self) -> Settings:
        secret = self.auth_secret.get_secret_value()
        if self.is_production:
            if secret.lower() in _WEAK_SECRETS or len(secret) < 32:
                raise ValueError(
                    "AUTH_SECRET must be set to a random value of at least 32 characters "
                    "in production (e.g. `openssl rand -hex 32`)"
                )
        elif not secret:
            # A per-process secret: sessions do not survive a restart, which is
            # what a development run should notice rather than silently share.
            self.auth_secret = SecretStr(secrets.token_hex(32))
        return self

    @property
    def is_production(self) -> bool:
        return self.app_env is AppEnv.PRODUCTION

    @property
    def tracing_enabled(self) -> bool:
        """Whether app and worker export traces (`ailawyer.tracing`)."""
        return self.otel_exporter_otlp_endpoint is not None and not self.otel_sdk_disabled

    @property
    def effective_login_address_limit(self) -> int:
        """Attempts per client address over all accounts (default 6 × LOGIN_RATE_LIMIT)."""
        return self.login_address_limit or 6 * self.login_rate_limit

    @property
    def effective_login_account_limit(self) -> int:
        """Attempts per account over all addresses (default 20 × LOGIN_RATE_LIMIT)."""
        return self.login_account_limit or 20 * self.login_rate_limit

    @property
    def redis(self) -> RedisTarget:
        """REDIS_URL parsed (one server, or sentinels and a master name), with
        REDIS_SENTINEL_PASSWORD: what every Redis client of the product is built from."""
        password = self.redis_sentinel_password
        return RedisTarget.parse(
            self.redis_url, sentinel_password=password.get_secret_value() if password else None
        )

    @property
    def deployment(self) -> Deployment:
        """This deployment's scope in Redis: REDIS_URL's database and BULLMQ_PREFIX."""
        return Deployment.of(self.redis_url, self.bullmq_prefix)

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL, or an embedded SQLite file under DATA_DIR."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'ailawyer.db').resolve()}"

    def log_path_for(self, process: Literal["app", "worker", "cli"]) -> str:
        if self.log_file_path:
            return self.log_file_path
        return DEFAULT_WORKER_LOG_PATH if process == "worker" else DEFAULT_APP_LOG_PATH

    @property
    def extra_queue_modules(self) -> list[str]:
        return [m.strip() for m in self.worker_extra_queues.split(",") if m.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def format_settings_error(error: ValidationError) -> str:
    """One line per invalid variable, named as the operator wrote it."""
    lines = ["Invalid configuration:"]
    fields = Settings.model_fields
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        name = loc[0] if loc else ""
        field = fields.get(name)
        alias = field.validation_alias if field else None
        if isinstance(alias, str):
            name = alias
        elif isinstance(alias, AliasChoices):
            name = "/".join(str(choice) for choice in alias.choices)
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"  {name.upper()}: {message}" if name else f"  {message}")
    return "\n".join(lines)
