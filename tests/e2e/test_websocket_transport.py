"""The WebSocket transport of a real `ailawyer serve`, as browsers meet it.

Browsers offer permessage-deflate on every WebSocket. The app declines it: with
it, every frame of a fan-out is compressed again for each socket (see
`cli/serve.py`). Declining is part of the standard handshake, so every browser
and client still connects, uncompressed.
"""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from tests.e2e.support import Stack
from tests.fixtures.live_app import login, make_user

# What Chromium sends in its handshake.
BROWSER_EXTENSIONS = "permessage-deflate; client_max_window_bits"


def _ws_url(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http") + "/socket.io/?EIO=4&transport=websocket"


@pytest.mark.slow
async def test_websocket_handshake_declines_compression(stack: Stack, db: Database) -> None:
    session = await login(stack.apps[0].url, await make_user(db, Role.ANWALT))
    await session.http.aclose()
    async with connect(
        _ws_url(stack.apps[0].url),
        compression="deflate",  # offered, as a browser does
        additional_headers={
            "Cookie": session.cookie_header,
            "Sec-WebSocket-Extensions": BROWSER_EXTENSIONS,
        },
        open_timeout=10,
    ) as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers, ws.response.headers
        # Still a working Engine.IO + Socket.IO connection over it.
        opened = await ws.recv()
        assert isinstance(opened, str) and opened.startswith("0")
        assert "sid" in json.loads(opened[1:])
        await ws.send("40")
        connected = await ws.recv()
        assert isinstance(connected, str) and connected.startswith('40{"sid":'), connected
