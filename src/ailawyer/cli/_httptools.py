"""uvicorn's httptools protocol with a bound on the head of a request (see `_http`).

Imported only where httptools can be imported (`_http.http_protocol`).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ailawyer.cli._http import MAX_HEAD_BYTES, REFUSAL, log


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a head that grows past `MAX_HEAD_BYTES`.

    The parser calls `on_message_begin` at a request's first byte and
    `on_headers_complete` at the end of its head; bytes fed in between are
    counted. (A chunk that ends one pipelined request and starts the next is
    counted whole, so the count can only be too high, by less than one read.)
    """

    max_head_bytes = MAX_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = False
        self._head_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.max_head_bytes:
            log.warning("http.head_too_large", size=self._head_bytes, complete=False)
            self._in_head = False
            self.transport.write(REFUSAL)
            self.transport.close()
