"""`ailawyer serve`: the app (API, pages, Socket.IO) under uvicorn.

uvicorn gets `log_config=None`, so it keeps our logging pipeline and its lines
come out as ours (JSON in production). Its access log is off: the app writes
one line per request itself, with the request id and the user. The event loop
is uvloop where it is installed. HTTP: httptools where it is installed, else
h11, both refusing request heads over 64 KiB (`_http.py`). WebSockets:
websockets' sans-I/O implementation, without per-message compression (see
`WS_PER_MESSAGE_DEFLATE`).
"""

from __future__ import annotations

import importlib.util
import logging
import signal
from types import FrameType

import typer
import uvicorn

from ailawyer import errors
from ailawyer.cli._common import setup
from ailawyer.cli._http import MAX_HEAD_BYTES, HeadLimit, http_protocol
from ailawyer.logs import create_logger
from ailawyer.tracing import stop_tracing

log = create_logger("serve")

# Seconds open connections get to finish once a shutdown begins.
GRACEFUL_SHUTDOWN_S = 10
# The WebSocket implementation: websockets' sans-I/O protocol, the leanest send
# path of uvicorn's three (one frame serialised and written, no task of its own
# per connection). Named, not "auto", so a dependency change cannot swap it.
WS_PROTOCOL = "websockets-sansio"
# No permessage-deflate. Browsers offer it and uvicorn accepts it by default:
# then every frame is compressed separately for every connection (a fan-out to a
# room compresses the same event once per socket) and each connection keeps a
# zlib context of its own. Our frames are small JSON events; it is not worth it.
WS_PER_MESSAGE_DEFLATE = False


class _ReportedRefusal(logging.Filter):
    """Drops uvicorn's traceback of a lifespan that refused to start.

    The app logs a `StartupError` (Redis or the database does not answer, a
    wrong REDIS_URL) as one line, `app.start_failed`, with its reason; uvicorn
    then logs the traceback Starlette hands it. An operator needs the reason,
    not a stack: anything else that fails the start keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if not text.startswith("Traceback"):
            return True
        last = text.rstrip().rsplit("\n", 1)[-1]
        name = last.split(":", 1)[0].removeprefix("ailawyer.errors.")
        refused = getattr(errors, name, None)
        return not (
            last.startswith("ailawyer.errors.")
            and isinstance(refused, type)
            and issubclass(refused, errors.StartupError)
        )


class _Server(uvicorn.Server):
    """uvicorn, ending with exit code 0 after a graceful SIGTERM/SIGINT.

    uvicorn remembers the signal that stopped it and raises it again once it is
    done, so the process would end "killed by SIGTERM". A requested, completed
    shutdown is a success (`docker stop`, supervisors and the worker agree): the
    signal only starts the shutdown. A second one forces it — uvicorn stops
    waiting for open requests and skips the lifespan's shutdown — and, as for
    the worker, the process then ends with 128 + the signal's number.
    """

    forced_by: int | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and not self.force_exit:
            self.force_exit = True
            self.forced_by = sig
            log.warning("shutdown.forced", signal=signal.Signals(sig).name)
        self.should_exit = True


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
) -> None:
    """Run the app (JSON API, web pages, Socket.IO)."""
    settings = setup("app")
    # httpx logs every request at info; the health checks would fill the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").addFilter(_ReportedRefusal())
    from ailawyer.api.app import create_app

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http, http_name = http_protocol()
    log.info("serve.starting", host=host, port=port, http=http_name, loop=loop)
    config = uvicorn.Config(
        HeadLimit(create_app(settings)),
        host=host,
        port=port,
        loop=loop,
        http=http,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        ws=WS_PROTOCOL,
        ws_per_message_deflate=WS_PER_MESSAGE_DEFLATE,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    server = _Server(config)
    server.run()
    stop_tracing(settings)
    if server.forced_by is not None:
        raise typer.Exit(128 + server.forced_by)
    if not server.started:
        # The lifespan refused to start (its reason is in the log above).
        raise typer.Exit(3)
