"""A deployment's scope: its database from REDIS_URL, and the names derived from it."""

from __future__ import annotations

import pytest

from ailawyer.api.health import listed_in_db
from ailawyer.deployment import Deployment, redis_db


@pytest.mark.parametrize(
    ("url", "db"),
    [
        ("redis://localhost:6379", 0),
        ("redis://localhost:6379/", 0),
        ("redis://:secret@localhost:6379/3", 3),
        ("rediss://cache.example:6380/12", 12),
        ("redis://localhost:6379?db=4", 4),
        ("unix:///run/redis.sock?db=2", 2),
        ("unix:///run/redis.sock", 0),
        ("redis+sentinel://s1:26379,s2:26379/5/mymaster", 5),
        ("rediss+sentinel://user:pw@s1:26379/mymaster", 0),
    ],
)
def test_the_database_of_a_url(url: str, db: int) -> None:
    assert redis_db(url) == db


def test_the_default_deployment_keeps_the_plain_channel_names() -> None:
    default = Deployment.of("redis://localhost:6379", "bull")
    assert default.is_default
    assert default.settings_channel == "settings:changed"
    assert default.socketio_channel == "socketio"
    assert default.key("worker", "w1") == "ailawyer:bull:worker:w1"


def test_another_database_or_prefix_gets_channels_of_its_own() -> None:
    names = {
        Deployment.of(url, prefix).settings_channel
        for url, prefix in [
            ("redis://h/0", "bull"),
            ("redis://h/1", "bull"),
            ("redis://h/0", "staging"),
            ("redis://h/1", "staging"),
        ]
    }
    assert names == {
        "settings:changed",
        "settings:changed:1:bull",
        "settings:changed:0:staging",
        "settings:changed:1:staging",
    }
    assert Deployment(db=1, prefix="bull").socketio_channel == "socketio:1:bull"


CLIENTS = (
    b"id=3 addr=127.0.0.1:1 fd=8 name=bull:test age=1 idle=0 flags=N db=2 sub=0\n"
    b"id=4 addr=127.0.0.1:2 fd=9 name=bull:mail:w:x age=1 idle=0 flags=N db=0 sub=0\n"
)


def test_a_client_list_line_counts_only_in_its_own_database() -> None:
    test = (b" name=bull:test ", b" name=bull:test:w:")
    mail = (b" name=bull:mail ", b" name=bull:mail:w:")
    assert listed_in_db(CLIENTS, test, 2)
    assert not listed_in_db(CLIENTS, test, 0)
    assert listed_in_db(CLIENTS, mail, 0)
    assert not listed_in_db(CLIENTS, mail, 2)
    assert not listed_in_db(b"", test, 0)
