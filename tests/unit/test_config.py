from __future__ import annotations

import pytest
from pydantic import ValidationError

from ailawyer.config import AppEnv, Settings, format_settings_error


def make(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    settings = make(monkeypatch)
    assert settings.app_env is AppEnv.DEVELOPMENT
    assert settings.redis_url == "redis://localhost:6379"
    assert settings.worker_concurrency == 5
    assert settings.job_log_sample == 1.0
    assert settings.shutdown_timeout == 25
    assert settings.health_check_timeout_ms == 2000
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.log_path_for("app") == "/var/log/ai-lawyer/app"
    assert settings.log_path_for("worker") == "/var/log/ai-lawyer/worker"
    assert len(settings.auth_secret.get_secret_value()) == 64


def test_node_env_is_an_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    settings = make(monkeypatch, NODE_ENV="Production", AUTH_SECRET="s" * 40)
    assert settings.is_production


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///data/x.db", "sqlite+aiosqlite:///data/x.db"),
        ("", None),
    ],
)
def test_database_url_gets_its_driver(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str | None
) -> None:
    assert make(monkeypatch, DATABASE_URL=url).database_url == expected


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WORKER_CONCURRENCY": "many"}, "WORKER_CONCURRENCY"),
        ({"WORKER_CONCURRENCY": "0"}, "WORKER_CONCURRENCY"),
        ({"WORKER_LOOP": "fast"}, "WORKER_LOOP"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"JOB_LOG_SAMPLE": "1.5"}, "JOB_LOG_SAMPLE"),
        ({"JOB_LOG_SAMPLE": "-0.1"}, "JOB_LOG_SAMPLE"),
        ({"JOB_LOG_SAMPLE": "half"}, "JOB_LOG_SAMPLE"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"MEILISEARCH_URL": "meili:7700"}, "MEILISEARCH_URL"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_TRACES_SAMPLER": "jaeger_remote"}, "OTEL_TRACES_SAMPLER"),
        ({"OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER_ARG"),
        ({"OTEL_TRACES_SAMPLER_ARG": "a tenth"}, "OTEL_TRACES_SAMPLER_ARG"),
        ({"APP_ENV": "production", "AUTH_SECRET": "changeme"}, "AUTH_SECRET"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    with pytest.raises(ValidationError) as info:
        make(monkeypatch, **env)
    assert named in format_settings_error(info.value)


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318/"}, True),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
                "OTEL_SDK_DISABLED": "true",
            },
            False,
        ),
    ],
)
def test_tracing_is_on_with_an_otlp_endpoint(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], enabled: bool
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    settings = make(monkeypatch, **env)
    assert settings.tracing_enabled is enabled
    if enabled:
        assert settings.otel_exporter_otlp_endpoint == "http://otel-collector:4318"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ("parentbased_always_on", 1.0)),
        # What docker-compose.yml passes for an unset variable.
        (
            {"OTEL_TRACES_SAMPLER": "", "OTEL_TRACES_SAMPLER_ARG": " "},
            ("parentbased_always_on", 1.0),
        ),
        (
            {"OTEL_TRACES_SAMPLER": " ParentBased_TraceIdRatio ", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
            ("parentbased_traceidratio", 0.1),
        ),
    ],
)
def test_the_trace_sampler_is_read_as_the_sdk_reads_it(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: tuple[str, float]
) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    monkeypatch.delenv("OTEL_TRACES_SAMPLER_ARG", raising=False)
    settings = make(monkeypatch, **env)
    assert (settings.otel_traces_sampler, settings.otel_traces_sampler_arg) == expected
