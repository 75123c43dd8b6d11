"""The ``Expect`` request header, on every route of the server.

``100-continue`` is met as aiohttp meets it; any other expectation answers ``417`` in the
API's envelope with a ``Request-Id`` (aiohttp's own answer is plain text, and a header
whose bytes are not UTF-8 made it a 500). The server's routes, known or not, answer it
through their pipeline (``expect_in_pipeline``, then ``refusal``), so it is journaled and
carries CORS headers as every other answer does; the proxy answers it at once
(``expect_handler``).
"""

from __future__ import annotations

from aiohttp import HttpVersion11, web

from profilemock.mockserver.connections import close_unread
from profilemock.mockserver.errors import ApiError
from profilemock.mockserver.render import json_response
from profilemock.mockserver.state import STATE

_REFUSED = web.RequestKey("profilemock_expectation_refused", str)


async def _unmet(request: web.Request) -> str | None:
    """The request's expectation if this server does not meet it; ``100-continue`` is met
    here (the client may send its body)."""
    if request.version != HttpVersion11:
        return None  # HTTP/1.0 has no Expect; the header is ignored
    expect = request.headers.get("Expect", "")
    if expect.lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the answer itself has not started
        return None
    return expect


def _refused(expect: str) -> ApiError:
    # ApiError makes the quoted header sendable (bytes that are not UTF-8 as `\xff`).
    return ApiError(
        417,
        "invalid_request_error",
        f"the Expect header asks for `{expect}`, which this server does not"
        " meet; send `Expect: 100-continue` or no Expect header",
    )


async def expect_handler(request: web.Request) -> web.StreamResponse | None:
    """What aiohttp runs before a route's handler when a request carries ``Expect``: an
    unmet expectation is answered here, before any handler."""
    expect = await _unmet(request)
    if expect is None:
        return None
    refused = _refused(expect)
    response = json_response(refused.body(), refused.status)
    state = request.config_dict.get(STATE)
    if state is not None:
        response.headers["Request-Id"] = state.next_request_id()
    close_unread(request, response)  # the body the client may still send is not read
    return response


async def expect_in_pipeline(request: web.Request) -> None:
    """The server's ``expect_handler``: an unmet expectation is only noted, and the
    pipeline answers it first (``refusal``), before it reads a body."""
    expect = await _unmet(request)
    if expect is not None:
        request[_REFUSED] = expect


def refusal(request: web.Request) -> ApiError | None:
    """The 417 for a request whose expectation this server does not meet, if it has one;
    the answer to it must close the connection (``connections.close_unread``): the body the
    client may still send is not read."""
    expect = request.get(_REFUSED)
    return None if expect is None else _refused(expect)
