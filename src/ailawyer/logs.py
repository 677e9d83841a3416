"""Structured logging: structlog in front, the standard library behind.

One pipeline for our own loggers and for dependencies (uvicorn, sqlalchemy, bullmq):
structlog events are handed to stdlib `logging`, and `ProcessorFormatter` renders
both kinds with the same processors. Lines carry `timestamp`, `level`,
`message`, `service`, `module`, and `userId`/`akteId`/`jobId` when they are
bound with `log_context` (docs/operations.md, "Logs"), and `traceId`/`spanId`
when tracing is on and a span is active (docs/operations.md, "Traces").

Production writes JSON to stdout and to a rotating file (daily or at
LOG_MAX_BYTES, whichever comes first; safe for several processes sharing one
folder). Development prints a coloured console. `set_log_level` changes the level
of a running process (the settings channel calls it).

Database drivers speak at warning and above only, whatever the level: at debug
aiosqlite logs every call with its arguments and SQLAlchemy's engine every
statement (and at debug every row), so a login would put the e-mail it looks
up and the session hash it checks into the log. `LOG_SQL=1` shows SQLAlchemy's
statements (at info, without parameters: the engine hides them); the drivers'
own loggers stay at warning even then.

A line costs what a job costs: the worker logs each job, the app each request.
So our own lines skip the stdlib detour (a `LogRecord`, copied again by the
formatter, rendered once per handler): structlog renders each line once and
hands it to a `LineSink`. In the app and the worker the sink writes from a
background thread, many lines per write, taking the log file's inter-process
lock once per batch instead of once per line (`flush_logs` waits for it; stdlib
`logging.shutdown` at exit flushes it too).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import queue
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

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


# Loggers of the database drivers: floored at warning (see the module docstring).
DRIVER_LOGGERS = ("aiosqlite", "asyncpg", "sqlalchemy")
# Under LOG_SQL: SQLAlchemy's statements, never its debug lines (result rows).
SQL_STATEMENT_LOGGER = "sqlalchemy.engine"


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


# Keys whose values we set ourselves and that never carry text from outside.
_OWN_KEYS = frozenset({"timestamp", "level", "service", "module"})
# Identifiers, kept whole: a scheduled job's id is `repeat:{scheduleId}:{millis}`,
# and `repeat:maintenance.sessions:1764644400000` reads like `session: <value>`
# to the free-text patterns, which would hide the very id an operator searches for.
_ID_KEYS = frozenset({"jobId", "schedule", "scheduleId", "notificationId", "workerId"})
_SCALARS = frozenset({int, float, bool, type(None)})


# Short values recur (event names, queue names, user ids): whether one may hide a
# secret is remembered, so a line's usual values cost a dict lookup, not a search.
_SHORT_VALUE = 64


@functools.lru_cache(maxsize=4096)
def _short_has_hint(value: str) -> bool:
    return _SECRET_HINT.search(value) is not None


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Replace values of secret-looking keys, and secrets inside text, everywhere."""
    for key, value in event_dict.items():
        if key in _OWN_KEYS or key.startswith("_"):
            continue  # ours, or structlog's own bookkeeping (record, from_structlog)
        kind = type(value)
        if kind is str and key in _ID_KEYS:
            continue
        if _is_secret_key(key):
            event_dict[key] = REDACTED
        elif kind in _SCALARS:
            continue
        elif isinstance(value, str):
            # Inlined `redact_text`: most values are ids and names, with no hint.
            hint = (
                _short_has_hint(value)
                if len(value) <= _SHORT_VALUE
                else _SECRET_HINT.search(value) is not None
            )
            if hint:
                event_dict[key] = redact_text(value)
        elif isinstance(value, Mapping | list | tuple):
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


class EventSampler:
    """Keep one in `1 / rate` lines of the sampled events, drop the others early.

    Per event name (`job.completed` with JOB_LOG_SAMPLE): the kept lines are
    spread evenly (a running sum, not chance), so 0.1 keeps exactly every tenth
    line and a test can count them. A kept line carries `sample_rate`, so a
    reader knows it stands for `1 / rate` events. Events not named here are
    never sampled: failures and retries have names of their own.
    """

    def __init__(self, rates: Mapping[str, float]) -> None:
        for event, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"sample rate of {event!r} must be from 0 to 1, not {rate}")
        self._rates = {event: rate for event, rate in rates.items() if rate < 1.0}
        # The first line is kept (unless the rate is 0: then none ever is).
        self._credit = {event: 1.0 if rate > 0 else 0.0 for event, rate in self._rates.items()}

    def __bool__(self) -> bool:
        return bool(self._rates)

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        event = event_dict.get("event")
        rate = self._rates.get(event) if isinstance(event, str) else None
        if rate is None:
            return event_dict
        assert isinstance(event, str)
        credit = self._credit[event]
        # The tolerance keeps sums like ten times 0.1 (0.999…) from skipping a line.
        if credit < 1.0 - 1e-9:
            self._credit[event] = credit + rate
            raise structlog.DropEvent
        self._credit[event] = credit - 1.0 + rate
        event_dict["sample_rate"] = rate
        return event_dict


def _json_fallback(value: Any) -> Any:
    """What structlog's JSON renderer does with a value JSON does not know."""
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


class _JSONRenderer:
    """structlog's `JSONRenderer` with one encoder for every line.

    `json.dumps(..., default=...)` builds a new `JSONEncoder` on every call (the
    module's cached one only serves calls without options); the line is the same.
    """

    def __init__(self) -> None:
        self._encode = json.JSONEncoder(default=_json_fallback).encode

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> str:
        return self._encode(event_dict)


def _shared_processors(trace_ids: bool = False) -> list[Processor]:
    tracing: list[Processor] = []
    if trace_ids:
        # Only with tracing on: this imports OpenTelemetry.
        from ailawyer.tracing.otel import add_trace_ids

        tracing.append(add_trace_ids)
    return [
        structlog.contextvars.merge_contextvars,
        *tracing,
        _add_level,
        _add_service_and_module,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _drop_color_message,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_secrets,
        _event_to_message,
    ]


# What a terminal would act on: C0 controls (ESC, BEL, CR, LF ...), DEL and C1
# (0x9b is a one-byte CSI).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A traceback keeps its line breaks and tabs, and is indented, so that no line of
# it (an exception message may hold a newline) can pass for a line of its own.
_CONTROL_IN_BLOCK = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BLOCK_KEYS = frozenset({"exception", "stack"})


def _escape_control(text: str, pattern: re.Pattern[str] = _CONTROL) -> str:
    return pattern.sub(lambda match: f"\\x{ord(match[0]):02x}", text)


def _console_block(text: str) -> str:
    return "\n".join("  " + line for line in _escape_control(text, _CONTROL_IN_BLOCK).split("\n"))


class _ConsoleRenderer:
    """Development console: the message first, context after, coloured by level.

    Text from outside (a request path, an exception message) is printed with
    its control characters escaped (`\\x1b`): a path with `ESC[2J` must not
    clear the terminal of whoever runs `ailawyer dev`, nor a newline print a
    line of its own. (JSON lines escape them by construction.)
    """

    def __init__(self) -> None:
        self._renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stdout.isatty(), event_key="message", timestamp_key="timestamp"
        )

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        event_dict.pop("service", None)
        for key, value in event_dict.items():
            if not isinstance(value, str):
                continue
            if key in _BLOCK_KEYS:
                event_dict[key] = _console_block(value)
            elif _CONTROL.search(value) is not None:
                # A trailing line break (uvicorn ends some messages with one) says nothing.
                event_dict[key] = _escape_control(value.rstrip("\r\n"))
        return str(self._renderer(logger, name, event_dict))


def _own_line(level: str, message: str, **fields: Any) -> str:
    """A JSON line about logging itself, written where the pipeline cannot help."""
    return json.dumps(
        {
            "timestamp": datetime.now(UTC).isoformat(),
            "level": level,
            "service": SERVICE_NAME,
            "module": "logs",
            "message": message,
            **fields,
        }
    )


def _file_handler(path: str, max_bytes: int) -> logging.Handler | None:
    """A multi-process safe handler rotating at midnight or at `max_bytes`.

    It writes what the sink gives it as it is: one or several rendered lines.
    """
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
        line = _own_line(
            "warn",
            "log.file_unavailable",
            path=str(target),
            error=exc.strerror or type(exc).__name__,
        )
        print(line, file=sys.stdout, flush=True)
        return None
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


_STOP = object()
# Lines waiting for the writer thread beyond this are dropped (and counted in a
# warning line): a stdout nobody reads must not grow the process without bound.
MAX_PENDING_LINES = 100_000
# The file's size limit is checked per write, so a write stays small beside it.
_MAX_CHUNK_BYTES = 64 * 1024
# Once woken, the writer lets lines gather this long: waking it and writing
# (stdout, then the file: lock, rollover checks, stat, write) then happen a few
# times a second, not per line. A busy worker spent 7 % of its time on the file
# alone with 5 ms.
_GATHER_S = 0.05


class LineSink(logging.Handler):
    """Where every rendered line goes: stdout, and the log file when there is one.

    With `background=True` a thread writes the lines, as many as have queued up
    per write; the caller only renders its line and queues it. Otherwise each
    line is written at once (the console, short commands). Also a stdlib handler,
    so dependencies' records reach the same place, and `logging.shutdown` (at
    exit) flushes what is still queued.
    """

    def __init__(
        self,
        stream: TextIO,
        file_handler: logging.Handler | None = None,
        *,
        background: bool = False,
        max_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        super().__init__()
        self._stream: TextIO | None = stream
        self._file = file_handler
        self._chunk_bytes = max(min(_MAX_CHUNK_BYTES, max_bytes // 8), 1)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._dropped = 0
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(
                target=self._run, name="ailawyer-log-writer", daemon=True
            )
            self._thread.start()

    def write(self, line: str) -> None:
        if self._thread is None:
            with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
                self._write([line])
        elif self._queue.qsize() < MAX_PENDING_LINES:
            self._queue.put(line)
        else:
            self._dropped += 1

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.write(line)

    def flush(self) -> None:
        """Return once every line queued so far is written (or after 5 s)."""
        thread = self._thread
        if thread is None or not thread.is_alive() or thread is threading.current_thread():
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait(5.0)

    def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(5.0)
        if self._file is not None:
            self._file.close()
        super().close()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            time.sleep(_GATHER_S)
            with contextlib.suppress(queue.Empty):
                while len(batch) < 10_000:
                    batch.append(self._queue.get_nowait())
            lines = [item for item in batch if isinstance(item, str)]
            if self._dropped:
                dropped, self._dropped = self._dropped, 0
                lines.append(_own_line("warn", "log.lines_dropped", count=dropped))
            if lines:
                try:
                    self._write(lines)
                except Exception as exc:  # the writer must outlive any one batch
                    print(f"log writer: {type(exc).__name__}: {exc}", file=sys.stderr)
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()
            if any(item is _STOP for item in batch):
                return

    def _write(self, lines: list[str]) -> None:
        if self._stream is not None:
            try:
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                self._stream = None  # closed or broken: the file still gets the lines
        if self._file is not None:
            for chunk in self._chunks(lines):
                self._file.handle(logging.makeLogRecord({"msg": chunk, "levelno": logging.INFO}))

    def _chunks(self, lines: list[str]) -> Iterator[str]:
        chunk: list[str] = []
        size = 0
        for line in lines:
            if chunk and size + len(line) >= self._chunk_bytes:
                yield "\n".join(chunk)
                chunk, size = [], 0
            chunk.append(line)
            size += len(line) + 1
        if chunk:
            yield "\n".join(chunk)


class _ToSink:
    """The last structlog processor: render, hand the line to the sink, done."""

    def __init__(self, renderer: Processor, sink: LineSink) -> None:
        self._renderer = renderer
        self._sink = sink

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
        self._sink.write(str(self._renderer(logger, name, event_dict)))
        raise structlog.DropEvent


def configure_logging(
    *,
    level: str = "info",
    json_output: bool = False,
    file_path: str | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    background: bool = False,
    stream: TextIO | None = None,
    log_sql: bool = False,
    trace_ids: bool = False,
    sample: Mapping[str, float] | None = None,
) -> None:
    """Set up the whole pipeline. Call once from a process entry point.

    `background`: write from a thread (long-running processes, where lines are
    many); else each line is written before the logging call returns. `stream`:
    where rendered lines go instead of stdout (a worker's child process hands
    them to its parent). `log_sql`: SQLAlchemy's statements at info, whatever the
    level (LOG_SQL). `trace_ids`: `traceId`/`spanId` of the active span on every
    line (with tracing on, `ailawyer.tracing`). `sample`: events logged only in
    part, by name, with the share kept (`EventSampler`; JOB_LOG_SAMPLE).
    """
    shared = _shared_processors(trace_ids)
    sampler = EventSampler(sample or {})
    renderer: Processor = _JSONRenderer() if json_output else _ConsoleRenderer()
    file_handler = _file_handler(file_path, max_bytes) if file_path else None
    sink = LineSink(stream or sys.stdout, file_handler, background=background, max_bytes=max_bytes)
    # Records of dependencies (stdlib loggers) are rendered by the same chain.
    sink.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(sink)

    # Dependencies log through the root handlers; their own handlers would print twice.
    for name in (
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "bullmq",
        "alembic",
        *DRIVER_LOGGERS,
    ):
        dep = logging.getLogger(name)
        dep.handlers.clear()
        dep.propagate = True
    # Explicit, so it holds below the driver floor that set_log_level puts on "sqlalchemy".
    logging.getLogger(SQL_STATEMENT_LOGGER).setLevel(logging.INFO if log_sql else logging.NOTSET)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            # Before anything is added or rendered: a dropped line costs little.
            *([sampler] if sampler else []),
            structlog.stdlib.PositionalArgumentsFormatter(),
            *shared,
            _ToSink(renderer, sink),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=_LevelFirstLogger,
        cache_logger_on_first_use=True,
    )
    set_log_level(level)


class _LevelFirstLogger(structlog.stdlib.BoundLogger):
    """structlog's stdlib logger that drops a debug or info line below the level
    before structlog builds its event dict and runs the processor chain.

    `filter_by_level` drops it too, but only as the chain's first step: about
    2.5 µs a call here, and the worker's hot path makes several debug calls per
    job. `isEnabledFor` is the stdlib logger's own cached check, cleared whenever
    `set_log_level` changes the level.
    """

    def debug(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if not self._logger.isEnabledFor(logging.DEBUG):
            return None
        return self._proxy_to_logger("debug", event, *args, **kw)

    def info(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        if not self._logger.isEnabledFor(logging.INFO):
            return None
        return self._proxy_to_logger("info", event, *args, **kw)


def write_rendered(line: str) -> None:
    """Write a line rendered by another process of ours (a worker's child), the
    way this process writes its own: to stdout and the log file, in order."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, LineSink):
            handler.write(line)
            return
    print(line, file=sys.stdout, flush=True)


def current_level() -> str:
    """The name of this process's log level now (it changes at runtime)."""
    return _NAMES.get(logging.getLogger().getEffectiveLevel(), "info")


def flush_logs() -> None:
    """Wait until every line logged so far is written."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def set_log_level(level: str) -> None:
    """Change the level of the running process (raises ValueError for unknown names)."""
    number = level_number(level)
    logging.getLogger().setLevel(number)
    # Never below warning: the drivers log statements with their parameters.
    for name in DRIVER_LOGGERS:
        logging.getLogger(name).setLevel(max(number, logging.WARNING))


def create_logger(module: str) -> structlog.stdlib.BoundLogger:
    """A logger whose lines carry `module`."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(module)
    return logger


# The service-wide logger (`module: "ai-lawyer"`), for lines that belong to no
# module of their own; everything else uses `create_logger`.
root_logger: structlog.stdlib.BoundLogger = create_logger(SERVICE_NAME)


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
