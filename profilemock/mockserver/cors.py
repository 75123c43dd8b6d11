"""CORS, when a server is started with it on (the real API sends no CORS headers).

A browser's preflight is answered yes for GET and HEAD from any origin, and every answer
names the asking origin and exposes profilemock's own headers.
"""

from __future__ import annotations

from aiohttp import web

EXPOSED = "Request-Id, Profilemock-Hint, Profilemock-Fault"


def is_preflight(request: web.Request) -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def preflight(request: web.Request) -> web.Response:
    """A browser asks whether it may send the request: yes, for GET and HEAD from anywhere."""
    response = web.Response(status=204)
    asked = request.headers.get("Access-Control-Request-Headers", "Authorization")
    response.headers.update(
        {
            "Access-Control-Allow-Methods": "GET, HEAD",
            "Access-Control-Allow-Headers": asked,
            "Access-Control-Max-Age": "600",
        }
    )
    allow_origin(request, response)
    return response


def allow_origin(request: web.Request, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin")
    if origin is None or response.prepared:
        return
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers["Access-Control-Expose-Headers"] = EXPOSED
    response.headers["Vary"] = "Origin"
