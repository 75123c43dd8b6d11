"""The floor for our stack: a bare aiohttp handler answering fixed bytes.

Usage: python bench/bare_server.py BODY_FILE [EVENTS_BODY_FILE]
Answers BODY_FILE on any path (EVENTS_BODY_FILE on paths ending in /events); prints its
URL and serves until terminated.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from aiohttp import web

from profilemock.mockserver.serving import new_event_loop


def main() -> None:
    body = Path(sys.argv[1]).read_bytes()
    events = Path(sys.argv[2]).read_bytes() if len(sys.argv) > 2 else body

    async def handler(request: web.Request) -> web.Response:
        chosen = events if request.path.endswith("/events") else body
        return web.Response(body=chosen, content_type="application/json")

    app = web.Application()
    app.router.add_route("GET", "/{path:.*}", handler)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"at http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    # The same event loop as profilemock uses (uvloop when installed): the same stack.
    web.run_app(app, sock=sock, print=None, access_log=None, loop=new_event_loop())


if __name__ == "__main__":
    main()
