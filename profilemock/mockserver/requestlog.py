"""The request log of ``profilemock serve``: one line a request, written in batches.

aiohttp's own access log formats each line through ``logging`` (a record, a formatter, a
handler lock) and writes and flushes it at once: a system call per request, ~30 % of a
``/traits`` request's cost. Here a request costs one f-string and a list append; the lines
reach the stream in one write when ``FLUSH_LINES`` are waiting or ``FLUSH_SECONDS`` after
the first of them, whichever comes first, and at shutdown. A pipe or a terminal is written
from a thread of its own: a reader that stops reading (``| less`` left unscrolled, a
terminal paused with Ctrl-S) holds that thread, never the server; past ``MAX_WAITING``
characters held for it, lines are dropped and counted. Nothing else is dropped. The thread
ends once the log is closed and its lines written (a process that runs many servers
keeps none of them), and a line written after that starts another.

    GET /v1/spaces/…/traits?limit=50 HTTP/1.1 200 1234 0ms

(method, the path as sent, status, bytes sent with the headers, time to answer.) A request
no whole answer went out to — a fault broke or held the connection, the client went away,
the server stopped — has its line too, its status ``-``:

    GET /v1/spaces/…/traits HTTP/1.1 - 0 2003ms (closed before the answer ended)

A fault rule's doing says which: ``503 36 0ms (fault fault-1)``, ``- 0 3001ms (closed
before the answer ended: fault fault-2 (hang))``.

The time is the loop's (uvloop's clock ticks in milliseconds): enough to see injected
latency, not to time the fake.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
import time
from abc import abstractmethod
from typing import TextIO

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from profilemock.api import FAULT_HEADER
from profilemock.mockserver.cors import is_preflight
from profilemock.mockserver.inject import FIRED

FLUSH_LINES = 512
FLUSH_SECONDS = 0.05
MAX_WAITING = 1 << 20
"""Characters held for a pipe or terminal that is not being read."""
CLOSE_SECONDS = 2.0
"""How long a stop waits for such a reader to take the lines still held for it."""


class RequestLog:
    """Buffered request lines for one stream; ``flush()`` writes what is waiting."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writer = _Writer(stream) if _may_block(stream) else None
        self._closing: float | None = None
        """When a stop stops waiting for a reader that stopped reading."""

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

    def close(self) -> None:
        """At a stop: every line written, a reader that stopped reading given
        ``CLOSE_SECONDS`` to take them, in all however often it is closed (``serve``
        closes it as the server ends, then as its logging records stop coming)."""
        self.flush()
        if self._writer is not None:
            if self._closing is None:
                self._closing = time.monotonic() + CLOSE_SECONDS
            self._writer.close(max(0.0, self._closing - time.monotonic()))

    def _write(self, text: str) -> None:
        if self._writer is not None:
            self._writer.write(text)
        else:
            _write(self.stream, text)

    def access_logger(self) -> type[AbstractAccessLogger]:
        """The class aiohttp instantiates for each connection, writing into this log."""
        return _bound_logger(self)


class AccessLogger(AbstractAccessLogger):
    """aiohttp's access logger, which logs answers, and the line of a request no whole
    answer went out to (``GuardedConnection`` tells it)."""

    @abstractmethod
    def unanswered(self, request: BaseRequest, time: float, sent: int | None = None) -> None:
        """``request`` ended ``time`` seconds after it began without a whole answer, ``sent``
        bytes of one gone out (by default, what its writer counted)."""


def _write(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):  # the reader went away (a closed pipe): serve on
        pass


def _may_block(stream: TextIO) -> bool:
    """Whether a write to ``stream`` may wait for a reader: a pipe, a terminal, a socket
    (not a regular file, nor a stream in memory)."""
    try:
        return not stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


class _Writer:
    """Writes texts to ``stream`` from a thread of its own, in order; holds at most
    ``MAX_WAITING`` characters for it, and counts the lines it drops past them. Once
    closed, the thread ends when it has nothing left to write."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._texts: list[str] = []
        self._waiting = 0
        self._dropped = 0
        self._busy = False
        self._closed = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def write(self, text: str) -> None:
        with self._changed:
            if self._texts and self._waiting + len(text) > MAX_WAITING:
                self._dropped += text.count("\n")
                return
            self._texts.append(text)
            self._waiting += len(text)
            self._changed.notify_all()
            if self._thread is None:  # none yet, or it ended: closed, with nothing to write
                self._thread = threading.Thread(
                    target=self._run, name="profilemock request log", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._busy = False
                self._changed.notify_all()
                self._changed.wait_for(lambda: bool(self._texts) or self._closed)
                if not self._texts:
                    self._thread = None  # under the lock: a text written now starts another
                    return
                self._busy = True
                text = "".join(self._texts)
                self._texts.clear()
                self._waiting = 0
                dropped, self._dropped = self._dropped, 0
            if dropped:
                text += (
                    f"profilemock: {dropped} log lines dropped here: the log was not being read"
                    " (a pipe or terminal that stopped reading)\n"
                )
            _write(self.stream, text)

    def close(self, timeout: float) -> None:
        """Let the thread end once every text is written; wait for that until ``timeout``
        seconds (a reader that stopped reading holds the thread, never the caller)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            self._changed.wait_for(lambda: not self._texts and not self._busy, timeout)


_PREFLIGHT = " (CORS preflight)\n"
_REFUSED_PREFLIGHT = " (CORS preflight: CORS is off, serve with --cors to let pages call)\n"


def _end(request: BaseRequest, response: StreamResponse) -> str:
    """The end of ``request``'s line: the fault rule that made or changed its answer; or
    whether it was a browser's CORS preflight the fake answered (no call of the app), or
    one it refused, CORS being off (the browser says only "blocked by CORS policy")."""
    fault = response.headers.get(FAULT_HEADER)
    if fault is not None:
        return f" (fault {fault})\n"
    if request.method != "OPTIONS":
        return "\n"
    if response.status == 204 and "Access-Control-Allow-Methods" in response.headers:
        return _PREFLIGHT
    if response.status == 405 and is_preflight(request):  # (on, it was answered)
        return _REFUSED_PREFLIGHT
    return "\n"


def _bound_logger(log: RequestLog) -> type[AccessLogger]:
    add = log.add

    class _AccessLogger(AccessLogger):
        __slots__ = ()

        def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
            version = request.version
            end = _end(request, response)
            add(
                f"{request.method} {request.raw_path} HTTP/{version.major}.{version.minor}"
                f" {response.status} {response.body_length} {time * 1000:.0f}ms{end}"
            )

        def unanswered(self, request: BaseRequest, time: float, sent: int | None = None) -> None:
            version = request.version
            sent = request.writer.output_size if sent is None else sent
            rule = request.get(FIRED)
            # A fault's doing, or the client's (a timeout), or the server's stop: told apart.
            why = "" if rule is None else f": fault {rule.id} ({rule.fault or 'latency'})"
            add(
                f"{request.method} {request.raw_path} HTTP/{version.major}.{version.minor}"
                f" - {sent} {time * 1000:.0f}ms"
                f" (closed before the answer ended{why})\n"
            )

    return _AccessLogger


class LogHandler(logging.Handler):
    """The server's ``logging`` records (a refused request, a failure) as lines of
    ``log``: in order with the request lines, and never waiting for a reader. Call it on
    the server's loop, as the server logs."""

    def __init__(self, log: RequestLog) -> None:
        super().__init__()
        self.log = log
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.log.say(self.format(record))
        except Exception:
            self.handleError(record)


LOGGER = logging.getLogger("profilemock.access")
"""Handed to aiohttp only to switch its access logging on; lines never pass through it."""
