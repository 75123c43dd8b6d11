"""Serving an app: in the foreground (the CLI) or in a background thread (tests).

Either way the socket is bound by us before serving, so port 0 works and the real port is
known. A request whose client goes away ends then (``handler_cancellation``): a held
request (a ``hang`` or ``latency`` fault) does not outlive its client, and the journal
records that the client went away. In a thread, readiness is signalled with an event
(never polled), and the caller's event loop, if any, is left alone; ``stop()`` is safe to
call twice.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import socket
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from profilemock.mockserver.app import STATE
from profilemock.mockserver.connections import GuardedRunner
from profilemock.mockserver.limits import Limits
from profilemock.mockserver.requestlog import LOGGER, RequestLog
from profilemock.mockserver.state import ServerState

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop (installed with profilemock wherever it installs): about a third
    more requests per second; asyncio's own where it is missing (Windows, PyPy)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to the end on a new loop from ``new_event_loop``."""
    loop = new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (0 = any free port)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def serve_until_stopped(
    app: web.Application,
    sock: socket.socket,
    on_ready: Callable[[str], None],
    *,
    request_log: RequestLog | None = None,
    limits: Limits | None = None,
) -> None:
    """Serve ``app`` on ``sock`` until SIGINT, SIGTERM or SIGHUP, then shut down cleanly.

    With ``request_log``, every request is logged there (and the log flushed at the end);
    ``limits`` bound what a connection may take.
    """
    if request_log is None:
        runner = GuardedRunner(
            app, limits, handle_signals=False, access_log=None, handler_cancellation=True
        )
    else:
        runner = GuardedRunner(
            app,
            limits,
            handle_signals=False,
            access_log=LOGGER,
            access_log_class=request_log.access_logger(),
            handler_cancellation=True,
        )
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        # Heard before the server says it is ready: a Ctrl-C sent as soon as it says so
        # (a test, a script) would otherwise meet the handler the process started with.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in _stop_signals():
            loop.add_signal_handler(sig, stop.set)
        on_ready(base_url(sock))
        await stop.wait()
    finally:
        try:
            await runner.cleanup()
        finally:
            if request_log is not None:
                request_log.close()


def _stop_signals() -> tuple[signal.Signals, ...]:
    """SIGINT, SIGTERM, and SIGHUP (a terminal closed, a session ended) unless ignored, as
    ``nohup`` leaves it: each stops the server cleanly, its request log written out."""
    hangup = getattr(signal, "SIGHUP", None)
    if hangup is None or signal.getsignal(hangup) == signal.SIG_IGN:
        return signal.SIGINT, signal.SIGTERM
    return signal.SIGINT, signal.SIGTERM, hangup


class ServerThread:
    """``with ServerThread(app) as server: requests.get(server.url + …)``."""

    def __init__(
        self,
        app: web.Application,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: Limits | None = None,
    ) -> None:
        self.app = app
        self.limits = limits or Limits()
        self._sock = bind(host, port)
        self.url = base_url(self._sock)
        self._loop = new_event_loop()
        self._ready = threading.Event()
        self._stopped = asyncio.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"profilemock {self.url}", daemon=True
        )

    def start(self, timeout: float = 30.0) -> ServerThread:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"profilemock did not start within {timeout} s")
        if self._failure is not None:
            raise RuntimeError(f"profilemock failed to start: {self._failure}") from self._failure
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        runner = GuardedRunner(
            self.app, self.limits, handle_signals=False, access_log=None, handler_cancellation=True
        )
        try:
            await runner.setup()
            await web.SockSite(runner, self._sock).start()
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            await runner.cleanup()
            return
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            await runner.cleanup()

    @property
    def state(self) -> ServerState:
        """The server's state. Change it through ``call`` while the server runs."""
        return self.app[STATE]

    def call(self, function: Callable[[ServerState], T], timeout: float = 30.0) -> T:
        """Run ``function(state)`` on the server's own loop and return its result.

        The server reads its state on that loop; changing the state from another thread
        (a test) through here never races with a request being answered.
        """
        if not self._thread.is_alive():
            return function(self.state)
        # A plain callback, not a coroutine: no Task to create, half the round trip.
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(function(self.state))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving and wait for the thread; safe to call more than once."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
