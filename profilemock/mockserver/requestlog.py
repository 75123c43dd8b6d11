"""The request log of ``profilemock serve``: one line a request, written in batches.

aiohttp's own access log formats each line through ``logging`` (a record, a formatter, a
handler lock) and writes and flushes it at once: a system call per request, ~30 % of a
``/traits`` request's cost. Here a request costs one f-string and a list append; the lines
reach the stream in one write when ``FLUSH_LINES`` are waiting or ``FLUSH_SECONDS`` after
the first of them, whichever comes first, and at shutdown. Nothing is dropped.

    GET /v1/spaces/…/traits?limit=50 HTTP/1.1 200 1234 0ms

(method, the path as sent, status, bytes sent with the headers, time to answer.) A request
no whole answer went out to — a fault broke or held the connection, the client went away,
the server stopped — has its line too, its status ``-``:

    GET /v1/spaces/…/traits HTTP/1.1 - 0 2003ms (closed before the answer ended)

The time is the loop's (uvloop's clock ticks in milliseconds): enough to see injected
latency, not to time the fake.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from typing import TextIO

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

FLUSH_LINES = 512
FLUSH_SECONDS = 0.05


class RequestLog:
    """Buffered request lines for one stream; ``flush()`` writes what is waiting."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, line: str) -> None:
        lines = self.lines
        lines.append(line)
        if len(lines) >= FLUSH_LINES:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.lines:
            return
        text = "".join(self.lines)
        self.lines = []
        self._write(text)

    def say(self, line: str) -> None:
        """A line of the server's own (a reload's), after the request lines waiting; like
        theirs, its loss never stops the server."""
        self.flush()
        self._write(line + "\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the reader went away (a closed pipe): serve on
            pass

    def access_logger(self) -> type[AbstractAccessLogger]:
        """The class aiohttp instantiates for each connection, writing into this log."""
        return _bound_logger(self)


class AccessLogger(AbstractAccessLogger):
    """aiohttp's access logger, which logs answers, and the line of a request no whole
    answer went out to (``GuardedConnection`` tells it)."""

    @abstractmethod
    def unanswered(self, request: BaseRequest, time: float) -> None:
        """``request`` ended ``time`` seconds after it began without a whole answer."""


def _bound_logger(log: RequestLog) -> type[AccessLogger]:
    add = log.add

    class _AccessLogger(AccessLogger):
        __slots__ = ()

        def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
            version = request.version
            add(
                f"{request.method} {request.raw_path} HTTP/{version.major}.{version.minor}"
                f" {response.status} {response.body_length} {time * 1000:.0f}ms\n"
            )

        def unanswered(self, request: BaseRequest, time: float) -> None:
            version = request.version
            add(
                f"{request.method} {request.raw_path} HTTP/{version.major}.{version.minor}"
                f" - {request.writer.output_size} {time * 1000:.0f}ms"
                " (closed before the answer ended)\n"
            )

    return _AccessLogger


LOGGER = logging.getLogger("profilemock.access")
"""Handed to aiohttp only to switch its access logging on; lines never pass through it."""
