"""The floor for our stack: a bare aiohttp handler answering fixed bytes on any path.

Usage: python bench/bare_server.py BODY_FILE  (prints its URL, serves until killed)
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from aiohttp import web


def main() -> None:
    body = Path(sys.argv[1]).read_bytes()

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("GET", "/{path:.*}", handler)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"at http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    main()
