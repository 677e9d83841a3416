"""The worker's own settings: BullMQ prefix and metrics port."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ailawyer.config import Settings, format_settings_error


def make(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key in ("BULLMQ_PREFIX", "WORKER_METRICS_PORT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_defaults_keep_the_bullmq_contract_and_no_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make(monkeypatch)
    assert settings.bullmq_prefix == "bull"
    assert settings.worker_metrics_port is None
    assert make(monkeypatch, WORKER_METRICS_PORT="").worker_metrics_port is None
    assert make(monkeypatch, WORKER_METRICS_PORT="9464").worker_metrics_port == 9464


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"BULLMQ_PREFIX": "bull:evil"}, "BULLMQ_PREFIX"),
        ({"BULLMQ_PREFIX": ""}, "BULLMQ_PREFIX"),
        ({"WORKER_METRICS_PORT": "70000"}, "WORKER_METRICS_PORT"),
        ({"WORKER_METRICS_PORT": "metrics"}, "WORKER_METRICS_PORT"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], name: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        make(monkeypatch, **env)
    assert f"  {name}: " in format_settings_error(raised.value)
