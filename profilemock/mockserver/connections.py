"""Connections: slow clients time out, there are never more than the process can hold, and
requests HTTP cannot read are answered in the API's envelope without echoing them.

aiohttp never times out a connection that has not completed its first request (its
keep-alive timer only runs after one), so a client sending headers a byte at a time holds
a socket forever; nor a body that trickles in while a handler reads it; and it answers an
unreadable request in plain text quoting the raw bytes (``Authorization`` headers
included), logging a traceback with them. ``GuardedRunner`` serves an app with a
connection class that fixes all of it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import http_exceptions, http_parser, web, web_protocol, web_server

from profilemock.api import REQUEST_ID_HEADER, envelope
from profilemock.jsonbytes import encode
from profilemock.mockserver.errors import ApiError
from profilemock.mockserver.journal import auth_kind
from profilemock.mockserver.limits import Limits, default_max_connections
from profilemock.mockserver.requestlog import AccessLogger
from profilemock.mockserver.state import STATE
from profilemock.words import counted

log = logging.getLogger("profilemock.access")


class _Count:
    """Open connections of the whole process (servers in several threads share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0

    def take(self, cap: int) -> bool:
        with self._lock:
            if self.open >= cap:
                return False
            self.open += 1
            return True

    def give(self) -> None:
        with self._lock:
            self.open -= 1


OPEN = _Count()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DIRECT: web.AppKey[tuple[str, Handler]] = web.AppKey("profilemock_direct")
"""``app[DIRECT] = (prefix, handler)``: served by ``GuardedRunner``, the requests whose
target (as sent) starts with ``prefix`` go straight to ``handler``, past aiohttp's router,
``Expect`` step and middlewares (a sub-application's among them), which cost the API's
requests a tenth of their time; ``handler`` reads neither ``request.app`` nor
``request.match_info``, which only the router sets. An app with middlewares,
``on_response_prepare`` hooks or routes under ``prefix`` of its own (a test's, say), or
served another way, routes them itself."""

_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (http_exceptions.LineTooLong, "a request line or header is too long"),
    (http_exceptions.BadHttpMethod, "the request does not start with an HTTP method"),
    (http_exceptions.BadStatusLine, "the request line is not `METHOD TARGET HTTP/1.x`"),
    (http_exceptions.InvalidHeader, "a header is malformed"),
    (http_exceptions.TransferEncodingError, "the chunked body is malformed"),
    (http_exceptions.ContentLengthError, "the body does not match its Content-Length"),
    (http_exceptions.ContentEncodingError, "the body's Content-Encoding is broken"),
)


def _reason(exc: BaseException | None) -> str:
    """What was wrong, in our words: never aiohttp's message, which quotes the raw bytes."""
    if isinstance(exc, http_exceptions.InvalidHeader) and exc.hdr.lower() == "content-length":
        # The pure-Python parser names the header it could not read (the C one says what is
        # wrong with its value, and names no header so).
        return _CONTENT_LENGTH
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, http_exceptions.BadHttpMessage):
        # Its first line: the rest quotes the raw line, whose words are the client's.
        message = exc.message.partition("\n")[0].lower()
        for words, reason in _MESSAGES:
            if words in message:
                return reason
        return "the request is not valid HTTP/1.1"
    return "the request could not be read"


_CONTENT_LENGTH = "Content-Length is not a number of bytes"
_NOT_CRLF = "a line of the request ends in a CR or an LF alone: HTTP lines end in CRLF (\\r\\n)"
_MESSAGES = (
    ("duplicate 'host'", "the request has two Host headers"),
    ("host", "an HTTP/1.1 request needs a Host header"),
    ("be present with", "Content-Length and Transfer-Encoding conflict"),
    ("duplicate content-length", "the request has two Content-Length headers"),
    ("duplicate 'content-length'", "the request has two Content-Length headers"),
    ("content-length", _CONTENT_LENGTH),
    ("transfer-encoding", "Transfer-Encoding is not chunked, the one the server reads"),
    ("too many", "the request has too many headers"),
    ("expected crlf", _NOT_CRLF),
    ("expected lf", _NOT_CRLF),
    (
        "char in url",
        "the request target holds a character no URL holds as is (a byte beyond ASCII, a"
        " control character): percent-encode it",
    ),
    ("duplicate", "a header that is given once is given twice"),
    ("header", "a header is malformed"),
)
"""What a part of aiohttp's message (lower case; first match) means, in our words (its
parsers: "Duplicate 'Host' header found.", "Invalid character in Content-Length",
"Content-Length can't be present with Transfer-Encoding", "Request has invalid
`Transfer-Encoding`", "Invalid char in url path", …; the pure-Python one's "Duplicate
'Content-Length' header found.")."""

_VERSIONS = frozenset({(0, 9), (1, 0), (1, 1), (2, 0)})
"""The HTTP versions of a request line aiohttp's C parser (llhttp) reads."""
_NOT_A_METHOD = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Z]")
"""A byte no HTTP method llhttp reads has (RFC 9110's token, in upper case: methods are
case-sensitive, and the pure-Python parser would read `get` as `GET`)."""


_BARE_CR_AT = re.compile(rb"\r(?=[^\n])")
"""A CR a byte other than LF follows (a CR last in what came so far may get its LF next)."""


class _PyParser(http_parser.HttpRequestParserPy):
    """aiohttp's pure-Python request parser (where its compiled one is missing: PyPy, a
    platform without its wheel, ``AIOHTTP_NO_EXTENSIONS``) refusing what the C parser
    refuses, so that the fake answers the same either way: a request line of an HTTP
    version llhttp does not read (the pure one reads any `HTTP/d.d`) or with a byte beyond
    ASCII (the pure one decodes it into the path), and bytes that cannot start a method —
    a lower-case letter (the pure one reads `get` as `GET`), a TLS handshake sent to this
    plain-HTTP port above all — and a line of the head ended by a CR alone, as soon as
    they come (the pure one waits for a line's end, which a handshake or a client ending
    its lines in CR never sends, and the client got no answer at all)."""

    def feed_data(self, data: bytes, *args: Any, **kwargs: Any) -> Any:
        if self._payload_parser is None and not self._upgraded:
            pending = self._tail + data
            if _BARE_CR_AT.search(pending.partition(b"\r\n\r\n")[0]):
                # The pure one splits lines at CRLF only: it waited for one that never came.
                raise http_exceptions.BadHttpMessage("Expected CRLF")
            if not self._lines:
                start = pending.lstrip(b"\r\n")
                method = start.partition(b" ")[0] if b" " in start else start
                if _NOT_A_METHOD.search(method) or start.startswith(b" "):
                    raise http_exceptions.BadHttpMethod(repr(method[:1]))
        return super().feed_data(data, *args, **kwargs)

    def parse_message(self, lines: list[bytes]) -> Any:
        if not lines[0].isascii():  # the pure one decodes the target, llhttp refuses it
            raise http_exceptions.InvalidURLError("Invalid char in url path")
        message = super().parse_message(lines)
        if tuple(message.version) not in _VERSIONS:
            raise http_exceptions.BadStatusLine(lines[0].decode("latin-1"))
        return message


class GuardedConnection(web_protocol.RequestHandler):
    """One connection: a deadline for its first request's headers, a place under the
    process's cap, and unreadable requests answered in the envelope."""

    limits: Limits = Limits()
    cap: int = 0
    app: web.Application | None = None
    direct: tuple[str, Handler] | None = None
    opened: float = 0.0
    _counted = False
    _deadline: asyncio.TimerHandle | None = None
    _body_deadline: asyncio.TimerHandle | None = None
    _body: Any = None
    """The payload of the latest request, while its body may still be arriving."""
    _handling = False
    _told: Any = None
    """The request ``handle_error`` refused with a line of its own, until its access line."""
    _paused_at = 0.0
    """When writing last paused: the client's buffers full, its reading behind ours."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.opened = time.monotonic()
        if not OPEN.take(self.cap) and not self._evict_idle():
            state = self.app.get(STATE) if self.app is not None else None
            request_id = None if state is None else state.next_request_id()
            _refuse(transport, request_id)
            peer = transport.get_extra_info("peername")
            why = (
                f"{counted(self.cap, 'connection')} {'is' if self.cap == 1 else 'are'} open,"
                " the most it may hold (--max-connections)"
            )
            log.warning(
                "profilemock refused a connection from %s with a 503: %s",
                peer[0] if peer else "an unknown address",
                why,
            )
            if state is not None:
                # The 503 its client gets, journaled as a request HTTP cannot read is (none
                # was read): a test's assert_no_errors sees it.
                state.journal.record(
                    state.clock.now_ns(), "UNKNOWN", "/", "none", 503, None, 0.0, request_id,
                    hint=f"the connection was refused: {why}",
                )  # fmt: skip
            return
        self._counted = True
        super().connection_made(transport)
        self._deadline = self._loop.call_later(self.limits.header_timeout, self._headers_late)

    def _evict_idle(self) -> bool:
        """Make room by closing this server's oldest connection that is waiting for a
        client (a slow or idle one), so clients that do send and read get in."""
        manager = self._manager
        if manager is None:
            return False
        idle = [
            c
            for c in manager.connections
            if isinstance(c, GuardedConnection) and c._counted and c._slow()
        ]
        if not idle:
            return False
        victim = min(idle, key=lambda c: c.opened)
        victim._release()
        if victim.writing_paused and victim.transport is not None:
            victim.transport.abort()  # close() would wait for the client to read the rest
        elif victim._waiter is not None:
            victim.force_close()
        else:
            victim._body_late(victim._body, "the server needed the connection for another client")
        return OPEN.take(self.cap)

    def _slow(self) -> bool:
        """Waiting for a request, for the rest of a request's body, or for the client to
        read an answer: writing paused for as long as a body has to arrive (a large answer
        pauses it however promptly its client reads; that one is working)."""
        return (
            self._waiter is not None
            or (
                self.writing_paused
                and self._loop.time() - self._paused_at >= self.limits.body_timeout
            )
            or (self._body is not None and not self._body.is_eof())
        )

    def pause_writing(self) -> None:
        super().pause_writing()
        self._paused_at = self._loop.time()

    def _release(self) -> None:
        if self._counted:
            self._counted = False
            OPEN.give()

    def _headers_late(self) -> None:
        self._deadline = None
        if self._waiter is not None and not self._messages:
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        for deadline in (self._deadline, self._body_deadline):
            if deadline is not None:
                deadline.cancel()
        self._deadline = self._body_deadline = self._body = None
        self._release()
        super().connection_lost(exc)

    async def _handle_request(
        self, request: Any, start_time: float | None, request_handler: Any
    ) -> tuple[web.StreamResponse, bool]:
        if self._deadline is not None:  # the first request's headers came in time
            self._deadline.cancel()
            self._deadline = None
        target = request.raw_path
        direct = self.direct
        if request.version[0] != 1:
            # A line without a version (HTTP/0.9) or with HTTP/2.0, which llhttp reads: it
            # was answered with that version's status line and HTTP/1.1's headers.
            request_handler = self._not_http1
        elif request.method == "CONNECT":
            # A tunnel through a proxy, which this is not (with a path, aiohttp routes it
            # nowhere and answers its own plain-text 404).
            request_handler = self._not_a_proxy
        elif direct is not None and target.startswith(direct[0]):
            request_handler = direct[1]
        elif not target.startswith("/") and "://" not in target:
            # ``OPTIONS *``: no route can take it.
            request_handler = self._no_path
        if self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None
        payload = self._body = request.content
        if not payload.is_eof():
            self._body_deadline = self._loop.call_later(
                self.limits.body_timeout, self._body_late, payload
            )
        self._handling = True
        try:
            result: tuple[web.StreamResponse, bool] = await super()._handle_request(
                request, start_time, request_handler
            )
        except asyncio.CancelledError:
            # No whole answer went out (a fault broke or held the connection, the client
            # went away, the server stopped): aiohttp logs nothing, the request log a line.
            self._log_unanswered(request, start_time)
            raise
        finally:
            self._handling = False
        return result

    def leave_body_unread(self) -> None:
        """Close the connection after this request's answer without reading what is left of
        its body, which aiohttp would otherwise read and drop for up to 10 s (the client
        may never send it: it waits for a ``100 Continue`` it was not given)."""
        self._lingering_time = 0.0

    def _body_late(self, payload: Any, why: str | None = None) -> None:
        """The body did not arrive in time (or, ``why``, the connection is needed). A
        handler reading it gets a 408 (in the envelope, then the connection closes); one
        that answered without it, or a body still coming after the answer, ends the
        connection."""
        if self._body_deadline is not None:
            self._body_deadline.cancel()
            self._body_deadline = None
        self._body = None
        if payload.is_eof():
            return
        if self._handling:
            seconds = f"{self.limits.body_timeout:g}"
            message = why or f"the request body did not arrive within {seconds} s of its headers"
            payload.set_exception(ApiError(408, "invalid_request_error", message))
            self._lingering_time = 0.0  # no reading what is left: the connection closes
            self.close()
        else:
            self.force_close()

    async def _not_a_proxy(self, request: Any) -> web.StreamResponse:
        # What follows a CONNECT is the tunnel's, never a body to read and drop: the pure-
        # Python parser hands it to aiohttp as one, which lingered 10 s reading it before
        # closing (the client waits for the answer before it sends any).
        self.leave_body_unread()
        return self._answer(
            request,
            400,
            "CONNECT asks for a tunnel, and profilemock is not a proxy: call its routes with GET",
        )

    async def _not_http1(self, request: Any) -> web.StreamResponse:
        self.leave_body_unread()
        return self._answer(request, 400, _reason(http_exceptions.BadStatusLine()))

    async def _no_path(self, request: Any) -> web.StreamResponse:
        return self._answer(request, 400, "the request target must be a path such as /v1/…")

    def _answer(
        self, request: Any, status: int, reason: str, journaled: bool = True
    ) -> web.Response:
        """An answer in the envelope with a Request-Id, journaled unless not ``journaled``
        (no route saw it, and a test's ``assert_no_errors`` must); the connection closes
        after it."""
        code = "internal_error" if status >= 500 else "invalid_request_error"
        response = web.Response(
            body=encode(envelope(code, reason)),
            status=status,
            content_type="application/json",
        )
        state = self.app.get(STATE) if self.app is not None else None
        if state is not None:
            request_id = response.headers[REQUEST_ID_HEADER] = state.next_request_id()
            if status < 500 and journaled:
                # A request no route saw (a 500 here is the fake failing on one a route may
                # have journaled, and fails the test as such). What HTTP could read of it:
                # an unreadable request is UNKNOWN / to aiohttp, with no headers.
                auth = auth_kind(request.headers.get("Authorization"))
                state.journal.record(
                    state.clock.now_ns(), request.method, request.raw_path, auth, status,
                    None, 0.0, request_id, hint=reason,
                )  # fmt: skip
        response.force_close()
        return response

    def log_access(self, request: Any, response: Any, time: float | None) -> None:
        """The request log's line, but for a refused request: its one line is the refusal;
        and an answer that found the client gone as it was written (aiohttp logs it as if
        it went out, ``200 0``) has the line of a request no whole answer went out to."""
        if request is self._told:
            self._told = None
        elif getattr(response, "_eof_sent", True):
            super().log_access(request, response, time)
        else:
            # A Response's headers and body are one write, which found the connection
            # closing (aiohttp counts the bytes before it finds that): none went out.
            sent = 0 if isinstance(response, web.Response) else None
            self._log_unanswered(request, time, sent)

    def _log_unanswered(
        self, request: Any, start_time: float | None, sent: int | None = None
    ) -> None:
        if start_time is not None and isinstance(self.access_logger, AccessLogger):
            self.access_logger.unanswered(request, self._loop.time() - start_time, sent)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A request HTTP could not read: one log line, an answer in the envelope."""
        if isinstance(exc, ApiError):
            # A body that did not arrive in time (``_body_late``), read by a middleware of
            # the app's own, outside the pipeline that answers it: the same answer.
            if request.writer.output_size > 0:
                raise ConnectionError("the answer was already started")
            from profilemock.mockserver.app import ADMIN_PREFIX

            # An admin call is not journaled (``admin_pipeline``), its refusals neither.
            admin = f"{request.path}/".startswith(ADMIN_PREFIX)
            return self._answer(request, exc.status, exc.message, journaled=not admin)
        if status >= 500:
            # Not the request: the fake failed outside every handler (writing an answer,
            # say). Told as a failure, and kept for the test that caused it.
            reason = "profilemock failed"
            log.error("profilemock failed answering %s", request.remote, exc_info=exc)
            state = self.app.get(STATE) if self.app is not None else None
            if state is not None and isinstance(exc, Exception):
                state.errors.append(exc)
        else:
            reason = _reason(exc) if status == 400 else "profilemock failed"
            log.warning("profilemock refused a request from %s: %s", request.remote, reason)
            self._told = request
        if request.writer.output_size > 0:
            raise ConnectionError("the answer was already started")
        return self._answer(request, status, reason)


def close_unread(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """``response`` closes ``request``'s connection (``Connection: close``), the rest of the
    request's body left unread (``GuardedConnection.leave_body_unread``): the answer to a
    body the server does not take, and that the client may never send."""
    response.force_close()
    if isinstance(request.protocol, GuardedConnection):
        request.protocol.leave_body_unread()


_FULL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"%sConnection: close\r\nContent-Length: %d\r\n\r\n%s"
)


def _refuse(transport: asyncio.BaseTransport, request_id: str | None) -> None:
    """Over the cap with nothing idle to close: a 503 in the envelope (with a Request-Id,
    as every answer has), then close."""
    body = encode(
        envelope("internal_error", "profilemock has as many connections open as it may hold")
    )
    named = b"" if request_id is None else b"Request-Id: %s\r\n" % request_id.encode()
    # uvloop's transports are no asyncio.WriteTransport (nor registered as one): write on
    # whatever the loop handed over, as aiohttp does.
    cast("asyncio.WriteTransport", transport).write(_FULL % (named, len(body), body))
    transport.close()


class _GuardedServer(web_server.Server):
    limits: Limits = Limits()
    app: web.Application | None = None
    direct: tuple[str, Handler] | None = None

    def __call__(self) -> web_protocol.RequestHandler:
        connection = GuardedConnection(self, loop=self._loop, **self._kwargs)
        connection.limits = self.limits
        connection.app = self.app
        connection.direct = self.direct
        connection.cap = self.limits.max_connections or default_max_connections()
        if type(connection._parser) is http_parser.HttpRequestParserPy:
            connection._parser.__class__ = _PyParser
        return connection


SHUTDOWN_GRACE = 1.0
"""Seconds a request still being answered when the server stops has to end, and as long
again once it is told to (aiohttp's 60 s, twice). Held requests end at once, the others in
milliseconds, unless their client stopped reading a large answer: Ctrl-C waited two
minutes for it."""


class GuardedRunner(web.AppRunner):
    """``web.AppRunner`` serving through ``GuardedConnection``."""

    def __init__(self, app: web.Application, limits: Limits | None = None, **kwargs: Any) -> None:
        self.limits = limits or Limits()
        kwargs.setdefault("keepalive_timeout", self.limits.keepalive_timeout)
        kwargs.setdefault("shutdown_timeout", SHUTDOWN_GRACE)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        server.__class__ = _GuardedServer
        assert isinstance(server, _GuardedServer)
        server.limits = self.limits
        server.app = self.app
        server.direct = _direct(self.app)
        return server


def _direct(app: web.Application) -> tuple[str, Handler] | None:
    """``app[DIRECT]``, unless the app was given what must see the API's requests:
    middlewares or ``on_response_prepare`` hooks of its own, or routes (sub-applications)
    of its own under the prefix, which its router takes before its catch-all."""
    direct = app.get(DIRECT)
    if direct is None or app.middlewares or app.on_response_prepare:
        return None
    under = direct[0].rstrip("/")  # "/v1": a route of /v1 itself, or /v1{x}, takes /v1/… too
    if any(resource.canonical.startswith(under) for resource in app.router.resources()):
        return None
    return direct
