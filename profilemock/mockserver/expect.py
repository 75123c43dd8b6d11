"""The ``Expect`` request header, on every route of the server.

``100-continue`` is met as aiohttp meets it; any other expectation answers ``417`` in the
API's envelope with a ``Request-Id`` (aiohttp's own answer is plain text, and a header
whose bytes are not UTF-8 made it a 500). The server's routes, known or not, answer it
first thing in their pipeline (``refusal``; aiohttp's own step before a route's handler is
``in_pipeline``, which meets only ``100-continue``, before any middleware, and leaves the
rest there), so it is journaled and carries CORS headers as every other answer does,
whichever way the request reached the pipeline; the proxy answers it at once
(``expect_handler``).
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import HttpVersion11, web

from profilemock.api import REQUEST_ID_HEADER
from profilemock.mockserver.connections import close_unread
from profilemock.mockserver.errors import ApiError
from profilemock.mockserver.render import json_response
from profilemock.mockserver.state import STATE

_CONTINUED = web.RequestKey("profilemock_continued", bool)


async def _unmet(request: web.Request, expect: str) -> str | None:
    """The request's expectation ``expect`` if this server does not meet it;
    ``100-continue`` is met here, once (the client may send its body)."""
    if request.version != HttpVersion11:
        return None  # HTTP/1.0 has no Expect; the header is ignored
    if expect.lower() == "100-continue":
        if _CONTINUED not in request:
            try:
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            finally:
                request.writer.output_size = 0  # the answer itself has not started
            request[_CONTINUED] = True
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
    try:
        expect = await _unmet(request, request.headers.get("Expect", ""))
    except ConnectionResetError:
        raise asyncio.CancelledError from None  # the client left before its 100 Continue
    if expect is None:
        return None
    refused = _refused(expect)
    response = json_response(refused.body(), refused.status)
    state = request.config_dict.get(STATE)
    if state is not None:
        response.headers[REQUEST_ID_HEADER] = state.next_request_id()
    close_unread(request, response)  # the body the client may still send is not read
    return response


async def in_pipeline(request: web.Request) -> None:
    """The server's ``expect_handler``: ``100-continue`` met, as aiohttp meets it before an
    app's middlewares (one of the app's own may read the body); any other expectation is
    left to the pipeline, which refuses it (``refusal``) before it reads a body. A request
    the runner hands the API's handler directly (``connections.DIRECT``) has its
    ``100-continue`` met there."""
    expect = request.headers.get("Expect", "")
    if expect.lower() == "100-continue":
        # A client gone meanwhile: the pipeline finds it gone too, and says so.
        with contextlib.suppress(ConnectionResetError):
            await _unmet(request, expect)


def too_large(request: web.Request) -> ApiError:
    """The 413 of an admin request whose body is larger than it may send."""
    return ApiError(
        413,
        "invalid_request_error",
        f"the request body is larger than the {request.client_max_size:,} bytes an admin"
        " request may send",
    )


def _announced_too_large(request: web.Request) -> bool:
    length = request.content_length
    return length is not None and length > request.client_max_size


async def admin_in_pipeline(request: web.Request) -> None:
    """The admin API's ``expect_handler``: as ``in_pipeline``, but a body announced larger
    than an admin request may send gets no ``100 Continue``: the pipeline answers its 413
    before the client sends it (curl asks to continue for a body over 1 MiB, the limit)."""
    if not _announced_too_large(request):
        await in_pipeline(request)


async def refusal(request: web.Request, expect: str, *, limited: bool = False) -> ApiError | None:
    """For a request carrying ``Expect: expect`` (not empty, as aiohttp reads it): the 417
    if this server does not meet it, else None, the ``100 Continue`` sent; ``limited`` (the
    admin API): the 413 of a body announced too large, no ``100 Continue`` sent. The answer
    to a refused one must close the connection (``connections.close_unread``): the body the
    client may still send is not read. A client gone before its ``100 Continue`` is a
    ``ConnectionResetError``, as at any write to it."""
    if limited and expect.lower() == "100-continue" and _announced_too_large(request):
        return too_large(request)
    unmet = await _unmet(request, expect)
    await request.writer.drain()  # as aiohttp does after its own step
    return None if unmet is None else _refused(unmet)
