"""The development console shows control characters from outside escaped.

A request path with `ESC[2J` cleared the terminal of whoever ran `ailawyer dev`,
and a newline in a value could print a line that looks like one of ours. JSON
lines (production) escape them by construction; the console must too.
"""

from __future__ import annotations

import pytest

from ailawyer.logs import configure_logging, create_logger

HOSTILE = "/\x1b[2J\x1b]0;pwned\x07\r\n2026-01-01 [info     ] auth.login userId=admin\x00\x9b"


def test_console_lines_escape_control_characters(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="info", json_output=False)
    log = create_logger("console")
    log.info("http.request", path=HOSTILE, raw="\x1b[2J\x1b[31mrot", method="GET")
    log.info(HOSTILE)
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        log.exception("http.unhandled_error")
    out = capsys.readouterr().out
    for char in ("\x1b", "\x07", "\x00", "\r", "\x9b"):
        assert char not in out, repr(char)
    lines = out.splitlines()
    # One line per event (the traceback keeps its own lines, escaped inside).
    assert sum("auth.login" in line for line in lines) == 3
    assert all(not line.startswith("2026-01-01 [info") for line in lines)
    assert "\\x1b[2J" in lines[0]
    assert "Traceback (most recent call last)" in out


def test_json_lines_are_unchanged(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="info", json_output=True)
    create_logger("console").info("http.request", path=HOSTILE)
    assert "\\u001b[2J" in capsys.readouterr().out
