"""Database drivers stay at warning whatever the level; LOG_SQL shows statements only.

In-process and with the real drivers' loggers; the processes are checked in
tests/reliability/test_debug_logs.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from ailawyer.config import Settings
from ailawyer.logs import DRIVER_LOGGERS, configure_logging, set_log_level

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")


@pytest.fixture(autouse=True)
def _restore_driver_levels() -> Iterator[None]:
    names = (*DRIVER_LOGGERS, "sqlalchemy.engine")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("level", LEVELS)
def test_driver_loggers_never_go_below_warning(restore_logging: None, level: str) -> None:
    configure_logging(level="info", json_output=True)
    set_log_level(level)
    for name in (*DRIVER_LOGGERS, "sqlalchemy.engine", "sqlalchemy.pool", "asyncpg.pool"):
        logger = logging.getLogger(name)
        assert not logger.isEnabledFor(logging.INFO), f"{name} at {level}"
        assert logger.isEnabledFor(logging.ERROR) == (level != "fatal"), f"{name} at {level}"


@pytest.mark.parametrize("level", LEVELS)
def test_log_sql_shows_statements_but_never_driver_debug(restore_logging: None, level: str) -> None:
    configure_logging(level=level, json_output=True, log_sql=True)
    set_log_level(level)
    engine = logging.getLogger("sqlalchemy.engine.Engine")
    assert engine.isEnabledFor(logging.INFO)
    assert not engine.isEnabledFor(logging.DEBUG)  # debug is every result row
    for name in ("aiosqlite", "asyncpg", "sqlalchemy.pool"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name


def test_log_sql_is_off_unless_asked(restore_logging: None) -> None:
    assert Settings(app_env="test").log_sql is False
    assert Settings(app_env="test", LOG_SQL="1").log_sql is True
    configure_logging(level="debug", json_output=True, log_sql=True)
    configure_logging(level="debug", json_output=True)
    assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)
