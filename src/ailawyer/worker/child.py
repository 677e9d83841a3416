"""A child process of the worker's process pool: runs `executor="process"` jobs.

Started by `worker.processes` as `python -m ailawyer.worker.child --json|--console`,
it runs one job at a time, for as long as its parent wants. The protocol is one
JSON object per line, in both directions:

- parent → child, on stdin: `{"type": "run", "function": "module:name",
  "payload": "module:name", "job": {...}, "logLevel": "info"}`; closing stdin ends
  the child;
- child → parent, on the original stdout: `ready`, `log` (a rendered line, which
  the parent writes as its own), `progress`, and one `done` (with the result) or
  `failed` (with the error) per job.

The parent traces the attempt (its `process <queue>` span covers the child's
work; nothing is traced in here); the job's `traceId`/`spanId` come with the
message and are bound to the child's log lines.

The child's own stdout is redirected to stderr, so a stray `print` cannot break
the protocol. It ignores SIGINT (a Ctrl-C in a terminal reaches the whole process
group; the parent decides when a job stops), and on Linux it dies with its
parent (PR_SET_PDEATHSIG), so a killed worker leaves no child behind.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import importlib
import inspect
import json
import os
import signal
import sys
import threading
from typing import Any, BinaryIO

from bullmq import UnrecoverableError

from ailawyer.logs import configure_logging, create_logger, log_context, set_log_level
from ailawyer.queues.payloads import Payload
from ailawyer.tracing import log_fields
from ailawyer.worker.context import JobContext

log = create_logger("worker.child")

_PR_SET_PDEATHSIG = 1


def resolve(reference: str) -> Any:
    """`module:qualified.name` → the object."""
    module_name, _, qualname = reference.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


class Channel:
    """The protocol's writing end: one JSON line per message, from any thread."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"
        with self._lock:
            self._out.write(data)
            self._out.flush()


class LogStream:
    """Where the child's log lines go: to the parent, one message per line."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line:
                self._channel.send({"type": "log", "line": line})
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        return


def run_one(channel: Channel, message: dict[str, Any]) -> None:
    job = message["job"]
    with log_context(jobId=job["id"], userId=job.get("userId"), **log_fields(job)):
        try:
            set_log_level(message.get("logLevel", "info"))
            function = resolve(message["function"])
            payload_model: type[Payload] = resolve(message["payload"])
            context: JobContext[Any] = JobContext(
                id=job["id"],
                queue=job["queue"],
                data=payload_model.model_validate(job["data"]),
                attempt=job["attempt"],
                attempts=job["attempts"],
                _progress=lambda value: channel.send({"type": "progress", "value": value}),
            )
            result = function(context)
            if inspect.isawaitable(result):
                result = asyncio.run(_awaited(result))
            try:
                json.dumps(result, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise UnrecoverableError(
                    f"processor returned a value that cannot be stored as JSON ({exc})"
                ) from exc
        except BaseException as exc:  # the parent decides what a failure means
            if not isinstance(exc, UnrecoverableError):
                log.warning("job.child_failed", error=type(exc).__name__, exc_info=exc)
            channel.send(
                {
                    "type": "failed",
                    "errorType": type(exc).__name__,
                    "message": str(exc),
                    "unrecoverable": isinstance(exc, UnrecoverableError),
                }
            )
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            return
        channel.send({"type": "done", "result": result})


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ailawyer-worker-child")
    parser.add_argument("--json", action="store_true", help="JSON log lines (production)")
    parser.add_argument("--level", default="info")
    args = parser.parse_args(argv)

    # The protocol keeps the real stdout; anything printed goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()

    channel = Channel(out)
    configure_logging(level=args.level, json_output=args.json, stream=LogStream(channel))  # type: ignore[arg-type]
    channel.send({"type": "ready", "pid": os.getpid()})
    for raw in sys.stdin.buffer:
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("worker.child_bad_message", size=len(raw))
            continue
        if isinstance(message, dict) and message.get("type") == "run":
            run_one(channel, message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
