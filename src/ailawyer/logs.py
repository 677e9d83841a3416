"""Structured logging: structlog in front, the standard library behind.

One pipeline for our own loggers and for dependencies (uvicorn, sqlalchemy, bullmq):
structlog events are handed to stdlib `logging`, and `ProcessorFormatter` renders
both kinds with the same processors. Lines carry the keys of SPEC §3:
`timestamp`, `level`, `message`, `service`, `module`, and `userId`/`akteId`/`jobId`
when they are bound with `log_context`.

Production writes JSON to stdout and to a rotating file (daily or at
LOG_MAX_BYTES, whichever comes first; safe for several processes sharing one
folder). Development prints a coloured console. `set_log_level` changes the level
of a running process (the settings channel calls it).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

SERVICE_NAME = "ai-lawyer"
TRACE = 5
FATAL = logging.CRITICAL

logging.addLevelName(TRACE, "TRACE")

# Our level names (pino's) ↔ stdlib numbers.
LEVELS: dict[str, int] = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": FATAL,
}
_NAMES: dict[int, str] = {number: name for name, number in LEVELS.items()}

CONTEXT_KEYS = ("userId", "akteId", "jobId")

REDACTED = "[REDACTED]"
_SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|cookie|authori[sz]ation|api[_-]?key|csrf|session|credential",
    re.IGNORECASE,
)
# Secrets that hide inside free text: URL credentials, bearer tokens, key=value pairs.
_SECRET_TEXT = (
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (
        re.compile(
            r"(?i)\b((?:[a-z_]*)(?:password|passwd|secret|token|cookie|session|api[_-]?key)"
            r"[a-z_]*)([\"']?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"
        ),
        r"\1\2" + REDACTED,
    ),
)

_configured_level = logging.INFO


def level_number(name: str) -> int:
    try:
        return LEVELS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {name!r}; use one of {', '.join(LEVELS)}") from None


# Every secret `_SECRET_TEXT` finds contains one of these; most log values (ids,
# names, event names) contain none, and then one search replaces three substitutions.
_SECRET_HINT = re.compile(r"(?i)://|bearer|basic|passw|secret|token|cookie|session|api[_-]?key")


@functools.lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def redact_text(text: str) -> str:
    if _SECRET_HINT.search(text) is None:
        return text
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str, value: Any, depth: int = 0) -> Any:
    if _is_secret_key(key):
        return REDACTED
    if depth > 6:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v, depth + 1) for v in value]
    return value


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Replace values of secret-looking keys, and secrets inside text, everywhere."""
    for key, value in event_dict.items():
        if key.startswith("_"):
            continue  # structlog's own bookkeeping (record, from_structlog)
        event_dict[key] = _redact_value(key, value)
    return event_dict


def _add_level(_: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    record = event_dict.get("_record")
    if "_level" in event_dict:
        event_dict["level"] = event_dict.pop("_level")
    elif record is not None:
        event_dict["level"] = _NAMES.get(record.levelno, record.levelname.lower())
    else:
        name = {"warning": "warn", "critical": "fatal", "exception": "error"}.get(
            method_name, method_name
        )
        event_dict["level"] = name
    return event_dict


def _add_service_and_module(logger: WrappedLogger, _: str, event_dict: EventDict) -> EventDict:
    event_dict.setdefault("service", SERVICE_NAME)
    if "module" not in event_dict:
        record = event_dict.get("_record")
        name = record.name if record is not None else getattr(logger, "name", None)
        event_dict["module"] = name or "root"
    return event_dict


def _event_to_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    if "event" in event_dict:
        event_dict["message"] = event_dict.pop("event")
    return event_dict


def _drop_color_message(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # uvicorn adds a second, ANSI-coloured copy of its message.
    event_dict.pop("color_message", None)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        _add_level,
        _add_service_and_module,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _drop_color_message,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_secrets,
        _event_to_message,
    ]


class _ConsoleRenderer:
    """Development console: the message first, context after, coloured by level."""

    def __init__(self) -> None:
        self._renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stdout.isatty(), event_key="message", timestamp_key="timestamp"
        )

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        event_dict.pop("service", None)
        return str(self._renderer(logger, name, event_dict))


def _file_handler(path: str, max_bytes: int) -> logging.Handler | None:
    """A multi-process safe handler rotating at midnight or at `max_bytes`."""
    from concurrent_log_handler import ConcurrentTimedRotatingFileHandler

    target = Path(path)
    if not target.suffix:
        target = target / f"{SERVICE_NAME}.log"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = ConcurrentTimedRotatingFileHandler(
            str(target), when="midnight", maxBytes=max_bytes, backupCount=14, encoding="utf-8"
        )
        # Open the file now, so an unwritable folder is noticed at start.
        with target.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        print(
            structlog.processors.JSONRenderer()(
                None,
                "warn",
                {
                    "level": "warn",
                    "service": SERVICE_NAME,
                    "module": "logs",
                    "message": "log.file_unavailable",
                    "path": str(target),
                    "error": exc.strerror or type(exc).__name__,
                },
            ),
            file=sys.stdout,
            flush=True,
        )
        return None
    return handler


def configure_logging(
    *,
    level: str = "info",
    json_output: bool = False,
    file_path: str | None = None,
    max_bytes: int = 10 * 1024 * 1024,
) -> None:
    """Set up the whole pipeline. Call once from a process entry point."""
    global _configured_level
    shared = _shared_processors()
    renderer: Processor = structlog.processors.JSONRenderer() if json_output else _ConsoleRenderer()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if file_path:
        file_handler = _file_handler(file_path, max_bytes)
        if file_handler is not None:
            file_handler.setFormatter(
                structlog.stdlib.ProcessorFormatter(
                    foreign_pre_chain=shared,
                    processors=[
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.JSONRenderer(),
                    ],
                )
            )
            handlers.append(file_handler)
    handlers[0].setFormatter(formatter)

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)

    # Dependencies log through the root handlers; their own handlers would print twice.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy", "bullmq", "alembic"):
        dep = logging.getLogger(name)
        dep.handlers.clear()
        dep.propagate = True

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    _configured_level = level_number(level)
    set_log_level(level)


def set_log_level(level: str) -> None:
    """Change the level of the running process (raises ValueError for unknown names)."""
    number = level_number(level)
    logging.getLogger().setLevel(number)
    # SQLAlchemy's engine logs every statement at INFO; it only speaks at debug.
    logging.getLogger("sqlalchemy").setLevel(max(number, logging.WARNING))


def current_log_level() -> str:
    return _NAMES.get(logging.getLogger().getEffectiveLevel(), "info")


def create_logger(module: str) -> structlog.stdlib.BoundLogger:
    """A logger whose lines carry `module`."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(module)
    return logger


root_logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger("ai-lawyer")


@contextlib.contextmanager
def log_context(**context: str | None) -> Iterator[None]:
    """Bind `userId`/`akteId`/`jobId` (or others) to every line in this context."""
    values = {key: value for key, value in context.items() if value is not None}
    tokens = structlog.contextvars.bind_contextvars(**values)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def bind_context(**context: str | None) -> None:
    structlog.contextvars.bind_contextvars(
        **{key: value for key, value in context.items() if value is not None}
    )


def trace(logger: structlog.stdlib.BoundLogger, event: str, **fields: Any) -> None:
    """Log at pino's `trace` level, below debug."""
    if logger.isEnabledFor(TRACE):
        # structlog's stdlib bridge knows no level below debug: send it as debug,
        # labelled trace.
        logger.debug(event, _level="trace", **fields)
