"""Connections: slow clients time out, there are never more than the process can hold, and
requests HTTP cannot read are answered in the API's envelope without echoing them.

aiohttp never times out a connection that has not completed its first request (its
keep-alive timer only runs after one), so a client sending headers a byte at a time holds
a socket forever; and it answers an unreadable request in plain text quoting the raw bytes
(``Authorization`` headers included), logging a traceback with them. ``GuardedRunner``
serves an app with a connection class that fixes all three.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import http_exceptions, web, web_protocol, web_server

from profilemock.api import envelope
from profilemock.jsonbytes import encode
from profilemock.mockserver.app import STATE

log = logging.getLogger("profilemock.access")

HEADER_TIMEOUT = 10.0
"""Seconds a connection has to send the headers of its first request."""
KEEPALIVE_TIMEOUT = 15.0
"""Seconds an idle keep-alive connection (or one half-way through the headers of its next
request) is kept open."""


def file_limit() -> int:
    """The soft limit of open files of this process."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def default_max_connections() -> int:
    """Connections one process serves at once: its file limit less room for everything
    else it opens (fixtures, logs, the event loop, a test runner)."""
    limit = file_limit()
    return max(8, min(limit - 64, int(limit * 0.9)))


@dataclass(frozen=True)
class Limits:
    header_timeout: float = HEADER_TIMEOUT
    keepalive_timeout: float = KEEPALIVE_TIMEOUT
    max_connections: int | None = None
    """None: ``default_max_connections()``."""


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
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, http_exceptions.BadHttpMessage):
        message = exc.message.lower()
        if "host" in message:
            return "an HTTP/1.1 request needs a Host header"
        if "too many" in message or "headers" in message:
            return "the request has too many headers"
        if "transfer-encoding" in message or "content-length" in message:
            return "Content-Length and Transfer-Encoding conflict"
        if "header" in message:
            return "a header is malformed"
        return "the request is not valid HTTP/1.1"
    return "the request could not be read"


class GuardedConnection(web_protocol.RequestHandler):
    """One connection: a deadline for its first request's headers, a place under the
    process's cap, and unreadable requests answered in the envelope."""

    limits: Limits = Limits()
    cap: int = 0
    app: web.Application | None = None
    opened: float = 0.0
    _counted = False
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.opened = time.monotonic()
        if not OPEN.take(self.cap) and not self._evict_idle():
            _refuse(transport)
            return
        self._counted = True
        super().connection_made(transport)
        self._deadline = self._loop.call_later(self.limits.header_timeout, self._headers_late)

    def _evict_idle(self) -> bool:
        """Make room by closing this server's oldest connection that is waiting for a
        request (a slow or idle client), so clients that do send requests get in."""
        manager = self._manager
        if manager is None:
            return False
        idle = [
            c
            for c in manager.connections
            if isinstance(c, GuardedConnection) and c._counted and c._waiter is not None
        ]
        if not idle:
            return False
        victim = min(idle, key=lambda c: c.opened)
        victim._release()
        victim.force_close()
        return OPEN.take(self.cap)

    def _release(self) -> None:
        if self._counted:
            self._counted = False
            OPEN.give()

    def _headers_late(self) -> None:
        self._deadline = None
        if self._waiter is not None and not self._messages:
            self.force_close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages and self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._release()
        super().connection_lost(exc)

    async def _handle_request(
        self, request: Any, start_time: float | None, request_handler: Any
    ) -> tuple[web.StreamResponse, bool]:
        target = request.raw_path
        if not target.startswith("/") and "://" not in target:
            # ``OPTIONS *`` or ``CONNECT host:port``: no route can take them.
            request_handler = self._no_path
        result: tuple[web.StreamResponse, bool] = await super()._handle_request(
            request, start_time, request_handler
        )
        return result

    async def _no_path(self, request: Any) -> web.StreamResponse:
        return self._answer(request, 400, "the request target must be a path such as /v1/…")

    def _answer(self, request: Any, status: int, reason: str) -> web.Response:
        """An answer in the envelope with a Request-Id; the connection closes after it."""
        response = web.Response(
            body=encode(envelope("invalid_request_error", reason)),
            status=status,
            content_type="application/json",
        )
        state = self.app.get(STATE) if self.app is not None else None
        if state is not None:
            response.headers["Request-Id"] = state.next_request_id()
        response.force_close()
        return response

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A request HTTP could not read: one log line, an answer in the envelope."""
        reason = _reason(exc) if status == 400 else "profilemock failed"
        log.warning("profilemock refused a request from %s: %s", request.remote, reason)
        if request.writer.output_size > 0:
            raise ConnectionError("the answer was already started")
        return self._answer(request, status, reason)


_FULL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
)


def _refuse(transport: asyncio.BaseTransport) -> None:
    """Over the cap with nothing idle to close: a 503 in the envelope, then close."""
    body = encode(
        envelope("internal_error", "profilemock has as many connections open as it may hold")
    )
    if isinstance(transport, asyncio.WriteTransport):
        transport.write(_FULL % (len(body), body))
    transport.close()


class _GuardedServer(web_server.Server):
    limits: Limits = Limits()
    app: web.Application | None = None

    def __call__(self) -> web_protocol.RequestHandler:
        connection = GuardedConnection(self, loop=self._loop, **self._kwargs)
        connection.limits = self.limits
        connection.app = self.app
        connection.cap = self.limits.max_connections or default_max_connections()
        return connection


class GuardedRunner(web.AppRunner):
    """``web.AppRunner`` serving through ``GuardedConnection``."""

    def __init__(self, app: web.Application, limits: Limits | None = None, **kwargs: Any) -> None:
        self.limits = limits or Limits()
        kwargs.setdefault("keepalive_timeout", self.limits.keepalive_timeout)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        server.__class__ = _GuardedServer
        assert isinstance(server, _GuardedServer)
        server.limits = self.limits
        server.app = self.app
        return server
