"""The ``Expect`` request header, on every route of the server.

``100-continue`` is met as aiohttp meets it; any other expectation answers ``417`` in the
API's envelope with a ``Request-Id`` (aiohttp's own answer is plain text, and a header
whose bytes are not UTF-8 made it a 500).
"""

from __future__ import annotations

from aiohttp import HttpVersion11, web

from profilemock.api import envelope
from profilemock.mockserver.errors import sendable
from profilemock.mockserver.render import json_response
from profilemock.mockserver.state import STATE


async def expect_handler(request: web.Request) -> web.StreamResponse | None:
    """What aiohttp runs before a route's handler when a request carries ``Expect``."""
    if request.version != HttpVersion11:
        return None  # HTTP/1.0 has no Expect; the header is ignored
    expect = request.headers.get("Expect", "")
    if expect.lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the answer itself has not started
        return None
    response = json_response(
        envelope(
            "invalid_request_error",
            f"the Expect header asks for `{sendable(expect)}`, which this server does not"
            " meet; send `Expect: 100-continue` or no Expect header",
        ),
        417,
    )
    state = request.config_dict.get(STATE)
    if state is not None:
        response.headers["Request-Id"] = state.next_request_id()
    response.force_close()  # the body the client may still send is not read
    return response
