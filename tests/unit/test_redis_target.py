"""REDIS_URL's two forms: one server, or the sentinels of a primary."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ailawyer.config import Settings, format_settings_error
from ailawyer.deployment import redis_db
from ailawyer.redis_target import DEFAULT_SENTINEL_PORT, RedisTarget


def test_a_plain_url_is_left_to_redis_py() -> None:
    target = RedisTarget.parse("redis://:secret@cache:6380/2")
    assert not target.is_sentinel
    assert target.url == "redis://:secret@cache:6380/2"
    assert "secret" not in target.display


def test_a_sentinel_url_names_sentinels_db_and_master() -> None:
    target = RedisTarget.parse(
        "redis+sentinel://app:p%40ss@s1:26379,s2:26380,[::1]:26381/3/ailawyer",
        sentinel_password="sentinel-secret",
    )
    assert target.is_sentinel
    assert target.sentinels == (("s1", 26379), ("s2", 26380), ("::1", 26381))
    assert (target.db, target.service_name) == (3, "ailawyer")
    assert (target.username, target.password) == ("app", "p@ss")
    assert target.sentinel_password == "sentinel-secret"
    assert not target.tls
    assert "p%40ss" not in target.display and "p@ss" not in target.display
    assert "sentinel-secret" not in repr(target)
    assert target.sentinel_list == "s1:26379, s2:26380, [::1]:26381"
    # The deployment's scope reads the same database.
    assert redis_db(target.url) == target.db


def test_tls_a_password_only_and_the_default_sentinel_port() -> None:
    target = RedisTarget.parse("rediss+sentinel://:only-pw@sentinel.internal/0/main")
    assert target.tls
    assert target.sentinels == (("sentinel.internal", DEFAULT_SENTINEL_PORT),)
    assert (target.username, target.password) == (None, "only-pw")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("localhost:6379", "must start with"),
        ("http://cache:6379", "must start with"),
        ("redis+sentinel://s1:26379/ailawyer", "/db/master_name"),
        ("redis+sentinel://s1:26379/0", "/db/master_name"),
        ("redis+sentinel://s1:26379/0/", "/db/master_name"),
        ("redis+sentinel://s1:26379/x/ailawyer", "/db/master_name"),
        ("redis+sentinel://s1:26379/0/ai/lawyer", "/db/master_name"),
        ("redis+sentinel:///0/ailawyer", "names no sentinel"),
        ("redis+sentinel://s1:26379,,s2/0/ailawyer", "is not host:port"),
        ("redis+sentinel://s1:port/0/ailawyer", "is not a port"),
        ("redis+sentinel://s1:99999/0/ailawyer", "is not a port"),
        ("redis+sentinel://s1:/0/ailawyer", "is not a port"),
        ("redis+sentinel://::1:26379/0/ailawyer", "[address]:port"),
        ("redis+sentinel://s1:26379/0/ailawyer?ssl=true", "no ?options"),
        ("redis+sentinel://s1:26379/0/ai%20lawyer", "not a master name"),
    ],
)
def test_a_malformed_url_is_refused_with_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError) as info:
        RedisTarget.parse(url)
    assert says in str(info.value)


def test_config_validation_names_redis_url_and_the_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis+sentinel://s1:26379/ailawyer")
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)  # type: ignore[call-arg]
    message = format_settings_error(info.value)
    assert "REDIS_URL: a Sentinel URL reads redis+sentinel://" in message
    assert "/db/master_name" in message


def test_settings_carry_the_sentinel_password_to_the_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis+sentinel://:data@s1:26379,s2:26379/4/ailawyer")
    monkeypatch.setenv("REDIS_SENTINEL_PASSWORD", "watchers")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.redis.sentinel_password == "watchers"
    assert settings.redis.password == "data"
    assert settings.deployment.db == 4
    monkeypatch.setenv("REDIS_SENTINEL_PASSWORD", "")
    assert Settings(_env_file=None).redis.sentinel_password is None  # type: ignore[call-arg]
